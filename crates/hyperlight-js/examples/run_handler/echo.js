// Returns the event unchanged.
export function handler(event) {
  return event;
}
