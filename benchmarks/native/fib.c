// The benchmarks' native QuickJS-ng line: the fib(25) workload of
// benchmarks/src/workloads.mjs, run by the same QuickJS-ng sources the guest
// is built from (the rquickjs-sys crate's vendored copy), compiled natively
// with the guest's optimisation level (-O3, NDEBUG, _GNU_SOURCE, as
// rquickjs-sys's build script and the guest's release profile give them).
// Prints one line per run: the wall time of one fib(25) call in
// microseconds. Built and run by benchmarks/src/native.mjs.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quickjs.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 10;
  JSRuntime *rt = JS_NewRuntime();
  JSContext *ctx = JS_NewContext(rt);
  const char *src = "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }";
  JSValue v = JS_Eval(ctx, src, strlen(src), "<fib>", JS_EVAL_TYPE_GLOBAL);
  if (JS_IsException(v)) return 1;
  JS_FreeValue(ctx, v);
  const char *call = "fib(25)";
  for (int i = 0; i < runs + 2; i++) {
    double t = now_us();
    JSValue r = JS_Eval(ctx, call, strlen(call), "<call>", JS_EVAL_TYPE_GLOBAL);
    double dt = now_us() - t;
    int32_t out = 0;
    if (JS_IsException(r) || JS_ToInt32(ctx, &out, r) != 0 || out != 75025) return 2;
    JS_FreeValue(ctx, r);
    if (i >= 2) printf("%.1f\n", dt);  // the first two warm the engine up
  }
  JS_FreeContext(ctx);
  JS_FreeRuntime(rt);
  return 0;
}
