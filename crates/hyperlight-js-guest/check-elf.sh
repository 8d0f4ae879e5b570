#!/usr/bin/env bash
# Checks the guest ELF: static, no undefined symbols, entry at _start,
# linked above the low system area, and reports every function that still
# contains a `syscall` instruction. Each of those must be on the allowlist
# below with the reason it is unreachable in normal operation; an unknown one
# fails the check (a new libc dependency that would fault at run time).
#
# Usage: ./check-elf.sh [path/to/elf]   (default: the release build)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
elf="${1:-$here/target/x86_64-unknown-linux-gnu/release/hyperlight-js-guest}"
fail=0
err() { echo "FAIL: $*"; fail=1; }

[ -f "$elf" ] || { echo "no ELF at $elf (build it with: cargo build --release)"; exit 2; }

# Static executable: no interpreter, no dynamic section, no relocations.
hdr="$(readelf -hlW "$elf")"
grep -q 'Type:[[:space:]]*EXEC' <<<"$hdr" || err "not an ET_EXEC image"
grep -q 'INTERP' <<<"$hdr" && err "has a PT_INTERP (dynamically linked)"
grep -q 'DYNAMIC' <<<"$hdr" && err "has a PT_DYNAMIC segment"
grep -q 'TLS' <<<"$hdr" && err "has a PT_TLS segment (the guest has no TLS setup beyond the TLS page)"
if readelf -rW "$elf" | grep -q 'Relocation section'; then err "has relocations (e.g. IRELATIVE) that nothing would apply"; fi

# Loaded at or above hyperlight_abi::layout::IMAGE_MIN_BASE (0x100000).
lowest="$(readelf -lW "$elf" | awk '$1=="LOAD"{print $3}' | sort | head -1)"
if (( lowest < 0x100000 )); then err "lowest PT_LOAD at $lowest, below 0x100000"; fi

# Entry point is _start.
entry="$(readelf -hW "$elf" | awk '/Entry point/{print $4}')"
start="0x$(nm "$elf" | awk '$3=="_start"{print $1}')"
(( entry == start )) || err "entry $entry is not _start ($start)"

# No undefined symbols.
undef="$(nm -u "$elf" | grep -v ' w ' || true)"
[ -z "$undef" ] || err "undefined symbols:\n$undef"

# Functions containing `syscall`, with the reason each is unreachable.
declare -A allowed=(
  [__clock_gettime]="musl's internal clock, used only by __timedwait (pthread_cond_timedwait); our clock_gettime overrides the public symbol"
  [__lockfile]="stdio FILE locking: contended locks only (single thread); snprintf uses unlocked string FILEs"
  [__unlockfile]="as __lockfile: wakes waiters only, never present"
  [__private_cond_signal]="condition variables: Atomics.wait is disabled (JS_SetCanBlock(false))"
  [pthread_cond_signal]="as __private_cond_signal"
  [pthread_cond_destroy]="as __private_cond_signal"
  [pthread_cond_timedwait]="as __private_cond_signal"
  [__wait]="futex wait: contended locks and condition variables only"
  [__pthread_once_full]="futex only when another thread waits on the once (single thread)"
  [__pthread_mutex_trylock_owner]="robust/owner-tracking mutexes: QuickJS uses normal mutexes"
  [pthread_mutex_timedlock]="mutex slow path: contention only (single thread)"
  [pthread_mutex_unlock]="futex wake: only with waiters (single thread)"
  [__vm_unlock]="as pthread_mutex_unlock (robust/shared mutexes only)"
  [undo]="pthread_once cancellation cleanup: no thread cancellation"
  [__syscall_cp_c]="cancellable syscalls: reached only from the waits above"
  [__stdio_write]="stdout writes: QuickJS prints only from debug/dump paths, which are compiled in but never enabled"
  [__stdout_write]="as __stdio_write"
  [__stdio_close]="closing stdio FILEs: never done"
  [locking_putc]="putc on stdout: debug/dump paths only (as __stdio_write)"
  [locking_putc.constprop.0]="as locking_putc"
  [lseek]="stdio seek: never called on stdout"
)

mapfile -t with_syscall < <(objdump -d --no-show-raw-insn "$elf" |
  awk '/^[0-9a-f]+ <.*>:$/ { fn = substr($2, 2, length($2) - 3) } /\tsyscall/ { print fn }' | sort -u)

echo "functions containing a syscall instruction (${#with_syscall[@]}):"
for f in "${with_syscall[@]}"; do
  if [ -n "${allowed[$f]+x}" ]; then
    printf '  %-32s %s\n' "$f" "${allowed[$f]}"
  else
    printf '  %-32s %s\n' "$f" "NOT ALLOWLISTED"
    err "unexpected syscall in $f"
  fi
done

# Our overrides must be the ones linked (musl's would syscall). Our
# malloc, clock_gettime, localtime_r, abort... are strong definitions, so
# musl's object files for them can never be linked beside them (that would
# be a duplicate-definition error); what can slip in is musl's internals
# through another musl function. None of these may be present:
syms="$(nm "$elf")"
for sym in __libc_malloc_impl __malloc_donate __tzset __secs_to_zone raise __block_all_sigs; do
  grep -qE " [TtWw] $sym\$" <<<"$syms" && err "musl's $sym is linked (an override is missing)"
done

size="$(stat -c %s "$elf")"
echo "ELF: $elf ($size bytes), entry $entry, lowest load address $lowest"
if (( fail )); then echo "check-elf: FAILED"; exit 1; fi
echo "check-elf: OK"
