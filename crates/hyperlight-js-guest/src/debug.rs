//! `REQ_DEBUG_FAULT`: a deliberate page fault at a known place, so the
//! host's crash dumps can be tested end to end (a core file opened by gdb
//! must show this function and `DEBUG_FAULT_ADDRESS`).

use hyperlight_abi::js::DEBUG_FAULT_ADDRESS;

/// Writes to the unmapped null page: a page fault whose faulting address is
/// [`DEBUG_FAULT_ADDRESS`] and whose instruction is in this function. The
/// host never resumes a faulted guest, so this does not return.
#[inline(never)]
#[no_mangle]
pub extern "C" fn hyperlight_js_debug_fault() {
    // SAFETY: deliberately invalid: the first page is never mapped, so this
    // store faults and the VM stops here.
    unsafe { core::ptr::write_volatile(DEBUG_FAULT_ADDRESS as *mut u64, 0xdead_beef) };
}

/// Handles the request (it only returns if the store did not fault,
/// which would be a bug in the VM's page tables).
pub fn fault() -> Result<Option<()>, crate::protocol::Failure> {
    hyperlight_js_debug_fault();
    Err(crate::protocol::Failure::code(
        hyperlight_abi::js::error_code::INTERNAL,
        "the deliberate fault did not fault: the null page is mapped",
    ))
}
