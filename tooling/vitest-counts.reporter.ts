import { writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * A silent vitest reporter that writes `{ passed, failed, skipped }` over every project to the
 * file named by `HYPERLIGHT_TEST_COUNTS`, for the totals line of `./scripts/dev.sh test`.
 * It prints nothing, so vitest's output still ends with the default reporter's summary.
 */
export default class CountsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const file = process.env.HYPERLIGHT_TEST_COUNTS;
    if (!file) return;
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const testModule of testModules) {
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else counts.skipped++;
      }
      // A test file that failed to load has no tests but must count as a failure.
      if (testModule.state() === 'failed' && testModule.children.size === 0) counts.failed++;
    }
    writeFileSync(file, `${JSON.stringify(counts)}\n`);
  }
}
