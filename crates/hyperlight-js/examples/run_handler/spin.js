// Never returns: for trying the limits (--timeout-ms, --cpu-timeout-ms).
export function handler() {
  for (;;) {}
}
