// A handler with an npm dependency (date-fns), bundled into the guest module.
import { defineHandler } from '@hyperlight/bundler/guest';
import { addBusinessDays, format, isWeekend, parseISO } from 'date-fns';

interface ScheduleEvent {
  start: string;
  steps: number;
}

interface Schedule {
  start: string;
  startsOnWeekend: boolean;
  dates: string[];
}

export default defineHandler<ScheduleEvent, Schedule>((event) => {
  const start = parseISO(event.start);
  const dates: string[] = [];
  for (let i = 1; i <= event.steps; i++)
    dates.push(format(addBusinessDays(start, i), 'EEE d MMM yyyy'));
  return { start: format(start, 'yyyy-MM-dd'), startsOnWeekend: isWeekend(start), dates };
});
