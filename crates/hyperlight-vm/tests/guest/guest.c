/*
 * The test guest of hyperlight-vm: a freestanding static program that runs
 * at ring 3 and does, per request tag, one normal or hostile thing.
 * The tags are mirrored in tests/common/mod.rs (`tag` module).
 *
 * Built by tests/common/mod.rs with gcc -ffreestanding -nostdlib -static.
 * Structures mirror crates/hyperlight-abi/src/lib.rs.
 */
#include <stdint.h>
#include <stddef.h>

typedef struct { uint64_t base, size; } Region;
typedef struct {
    uint64_t magic;
    uint32_t abi_version;
    uint32_t interrupt;
    Region image, heap, stack, input, output, print;
    uint64_t host_time_unix_ns, host_monotonic_ns, request_seq;
    uint8_t entropy[64];
} ControlPage;
typedef struct { uint32_t tag, len; } MsgHeader;

_Static_assert(offsetof(ControlPage, heap) == 32, "ControlPage layout");
_Static_assert(offsetof(ControlPage, entropy) == 136, "ControlPage layout");

#define PORT_DONE 0x0E10
#define PORT_HOST_CALL 0x0E11
#define PORT_PRINT_FLUSH 0x0E12
#define PORT_ABORT 0x0E13

enum {
    T_ECHO = 1, T_HOST_CALLS = 2, T_PRINT = 3, T_ABORT = 4, T_LOOP = 5,
    T_WRITE_ADDR = 6, T_READ_ADDR = 7, T_OUT_PORT = 8, T_IN_PORT = 9,
    T_BAD_ANSWER_LEN = 10, T_BAD_HOST_CALL_LEN = 11, T_BAD_PRINT_USED = 12,
    T_BAD_PRINT_RECORD = 13, T_STACK_OVERFLOW = 14, T_HLT = 15, T_CLI = 16,
    T_MOV_CR3 = 17, T_WRMSR = 18, T_DIRTY = 19, T_STATE = 20,
    T_FLUSH_SPIN = 21, T_UD2 = 22, T_EXEC_HEAP = 23, T_POLITE_LOOP = 24,
    T_HOST_CALL_ECHO = 25, T_SSE = 26, T_INT3 = 27, T_OUT_WIDE = 28,
    T_READ_XMM1 = 29,
};

static volatile ControlPage *cp;
/* In .data: counts calls, so a restore visibly rewinds it. */
static volatile uint64_t calls = 1000;
/* In .bss. */
static volatile uint64_t bss_calls;

void *memcpy(void *d, const void *s, size_t n) {
    uint8_t *dd = d; const uint8_t *ss = s;
    while (n--) *dd++ = *ss++;
    return d;
}
void *memset(void *d, int c, size_t n) {
    uint8_t *dd = d;
    while (n--) *dd++ = (uint8_t)c;
    return d;
}

static inline void out8(uint16_t port, uint8_t v) {
    __asm__ volatile("outb %0, %1" :: "a"(v), "d"(port) : "memory");
}

static uint8_t *input(void) { return (uint8_t *)cp->input.base; }
static uint8_t *output(void) { return (uint8_t *)cp->output.base; }
static volatile MsgHeader *in_hdr(void) { return (volatile MsgHeader *)cp->input.base; }
static volatile MsgHeader *out_hdr(void) { return (volatile MsgHeader *)cp->output.base; }
static uint64_t arg64(uint32_t i) { return ((volatile uint64_t *)(input() + 8))[i]; }

static void answer(uint32_t tag, const void *data, uint32_t len) {
    memcpy(output() + 8, data, len);
    out_hdr()->tag = tag;
    out_hdr()->len = len;
}

static void print(uint32_t level, const char *s, uint32_t n) {
    volatile uint64_t *used = (volatile uint64_t *)cp->print.base;
    uint64_t cap = cp->print.size - 8;
    if (*used + 8 + n > cap) {
        out8(PORT_PRINT_FLUSH, 0);
    }
    uint8_t *p = (uint8_t *)cp->print.base + 8 + *used;
    memcpy(p, &level, 4);
    memcpy(p + 4, &n, 4);
    memcpy(p + 8, s, n);
    *used += 8 + n;
}

static void die(const char *msg) {
    uint32_t n = 0;
    while (msg[n]) n++;
    answer(0, msg, n);
    out8(PORT_ABORT, 42);
    for (;;) {}
}

/* Guest -> host call: request (tag, payload) in output, answer in input. */
static uint32_t host_call(uint32_t tag, const void *data, uint32_t len) {
    answer(tag, data, len);
    out8(PORT_HOST_CALL, 0);
    return in_hdr()->tag;
}

__attribute__((noinline)) static uint64_t recurse(uint64_t n) {
    volatile uint8_t buf[512];
    buf[0] = (uint8_t)n;
    return recurse(n + 1) + buf[0];
}

static void handle(void) {
    uint32_t tag = in_hdr()->tag;
    uint32_t len = in_hdr()->len;
    calls++;
    bss_calls++;
    switch (tag) {
    case T_ECHO:
        answer(T_ECHO, input() + 8, len);
        break;
    case T_HOST_CALLS: {
        uint64_t n = arg64(0), sum = 0;
        for (uint64_t i = 0; i < n; i++) {
            uint32_t v = (uint32_t)i;
            uint32_t t = host_call(100, &v, 4);
            if (t != 101 || in_hdr()->len != 4) die("bad host call answer");
            sum += *(volatile uint32_t *)(input() + 8);
        }
        answer(T_HOST_CALLS, &sum, 8);
        break;
    }
    case T_HOST_CALL_ECHO: {
        /* One host call with the request payload; answer with what came
           back, tag included. */
        uint8_t buf[256];
        uint32_t n = len < sizeof buf ? len : sizeof buf;
        memcpy(buf, input() + 8, n);
        uint32_t t = host_call(7, buf, n);
        uint32_t alen = in_hdr()->len;
        memcpy(output() + 8, input() + 8, alen);
        out_hdr()->tag = t;
        out_hdr()->len = alen;
        break;
    }
    case T_PRINT: {
        uint64_t n = arg64(0);
        char line[32] = "line ";
        for (uint64_t i = 0; i < n; i++) {
            /* "line <i>" */
            char digits[20]; int d = 0; uint64_t v = i;
            do { digits[d++] = (char)('0' + v % 10); v /= 10; } while (v);
            int k = 5;
            while (d) line[k++] = digits[--d];
            print((uint32_t)(i % 5), line, (uint32_t)k);
        }
        answer(T_PRINT, &n, 8);
        break;
    }
    case T_ABORT:
        die("guest said no");
        break;
    case T_LOOP:
        for (;;) { __asm__ volatile("" ::: "memory"); }
    case T_POLITE_LOOP: {
        uint64_t spins = 0;
        while (*(volatile uint32_t *)&cp->interrupt == 0) spins++;
        answer(T_POLITE_LOOP, "interrupted", 11);
        break;
    }
    case T_WRITE_ADDR:
        *(volatile uint64_t *)arg64(0) = 1;
        answer(T_WRITE_ADDR, 0, 0);
        break;
    case T_READ_ADDR: {
        uint64_t v = *(volatile uint64_t *)arg64(0);
        answer(T_READ_ADDR, &v, 8);
        break;
    }
    case T_EXEC_HEAP: {
        volatile uint8_t *code = (uint8_t *)cp->heap.base;
        code[0] = 0xc3; /* ret */
        ((void (*)(void))cp->heap.base)();
        answer(T_EXEC_HEAP, 0, 0);
        break;
    }
    case T_OUT_PORT:
        out8((uint16_t)arg64(0), 0);
        answer(T_OUT_PORT, 0, 0);
        break;
    case T_OUT_WIDE: /* 4-byte out to ABORT touches the FAULT port's bit */
        __asm__ volatile("outl %0, %1" :: "a"(0), "d"((uint16_t)PORT_ABORT) : "memory");
        answer(T_OUT_WIDE, 0, 0);
        break;
    case T_IN_PORT: {
        uint8_t v;
        __asm__ volatile("inb %1, %0" : "=a"(v) : "d"((uint16_t)PORT_DONE) : "memory");
        answer(T_IN_PORT, &v, 1);
        break;
    }
    case T_BAD_ANSWER_LEN:
        out_hdr()->tag = T_BAD_ANSWER_LEN;
        out_hdr()->len = 0xfffffff0u;
        break;
    case T_BAD_HOST_CALL_LEN:
        out_hdr()->tag = 100;
        out_hdr()->len = (uint32_t)cp->output.size - 7;
        out8(PORT_HOST_CALL, 0);
        answer(T_BAD_HOST_CALL_LEN, 0, 0);
        break;
    case T_BAD_PRINT_USED:
        *(volatile uint64_t *)cp->print.base = 0xffffffffffffull;
        out8(PORT_PRINT_FLUSH, 0);
        answer(T_BAD_PRINT_USED, 0, 0);
        break;
    case T_BAD_PRINT_RECORD: {
        uint8_t *p = (uint8_t *)cp->print.base + 8;
        uint32_t level = 2, n = 1000;
        memcpy(p, &level, 4);
        memcpy(p + 4, &n, 4);
        *(volatile uint64_t *)cp->print.base = 16;
        out8(PORT_PRINT_FLUSH, 0);
        answer(T_BAD_PRINT_RECORD, 0, 0);
        break;
    }
    case T_STACK_OVERFLOW: {
        uint64_t r = recurse(0);
        answer(T_STACK_OVERFLOW, &r, 8);
        break;
    }
    case T_HLT: __asm__ volatile("hlt"); break;
    case T_CLI: __asm__ volatile("cli"); break;
    case T_MOV_CR3: __asm__ volatile("mov %0, %%cr3" :: "r"((uint64_t)0) : "memory"); break;
    case T_WRMSR: __asm__ volatile("wrmsr" :: "c"(0xc0000100u), "a"(0), "d"(0)); break;
    case T_UD2: __asm__ volatile("ud2"); break;
    case T_INT3: __asm__ volatile("int3"); break;
    case T_DIRTY: {
        uint64_t n = arg64(0), seed = arg64(1);
        uint64_t pages = cp->heap.size / 4096;
        if (n > pages) die("too many pages");
        for (uint64_t i = 0; i < n; i++) {
            volatile uint64_t *p = (uint64_t *)(cp->heap.base + i * 4096 + (seed % 500) * 8);
            *p = seed + i + 1;
        }
        answer(T_DIRTY, &n, 8);
        break;
    }
    case T_STATE: {
        uint64_t fs_self, canary;
        __asm__ volatile("mov %%fs:0, %0" : "=r"(fs_self));
        __asm__ volatile("mov %%fs:0x28, %0" : "=r"(canary));
        uint64_t st[6] = {calls, bss_calls, cp->request_seq, fs_self, canary,
                          *(volatile uint64_t *)cp->entropy};
        answer(T_STATE, st, sizeof st);
        break;
    }
    case T_FLUSH_SPIN: {
        uint64_t n = arg64(0);
        for (uint64_t i = 0; i < n; i++) out8(PORT_PRINT_FLUSH, 0);
        answer(T_FLUSH_SPIN, &n, 8);
        break;
    }
    case T_SSE: {
        /* Leaves recognisable values in xmm0/xmm1 for snapshot tests. */
        uint64_t v = arg64(0);
        __asm__ volatile("movq %0, %%xmm0\n\tmovq %0, %%xmm1\n\tpaddq %%xmm0, %%xmm1"
                         :: "r"(v) : "xmm0", "xmm1");
        answer(T_SSE, &v, 8);
        break;
    }
    case T_READ_XMM1: {
        uint64_t v;
        __asm__ volatile("movq %%xmm1, %0" : "=r"(v));
        answer(T_READ_XMM1, &v, 8);
        break;
    }
    default:
        die("unknown request tag");
    }
}

void guest_main(ControlPage *c) {
    cp = c;
    if (c->magic != 0x4c525443534a4c48ull) die("bad control page magic");
    uint64_t fs_self;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(fs_self));
    if (fs_self != 0xA000) die("FS base is not the TLS page");
    print(2, "guest booted", 12);
    out8(PORT_DONE, 0); /* ready */
    for (;;) {
        handle();
        out8(PORT_DONE, 0);
    }
}

__asm__(".globl _start\n"
        "_start:\n"
        "  and $-16, %rsp\n"
        "  call guest_main\n"
        "  ud2\n");
