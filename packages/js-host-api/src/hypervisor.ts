import { preparedBinding } from './binding';

/**
 * What {@link checkHypervisor} found wrong:
 *
 * - `device-missing`: `/dev/kvm` does not exist (KVM not loaded, or a container started without
 *   `--device /dev/kvm`);
 * - `permission-denied`: it exists but this user may not open it (join `groupToJoin`);
 * - `no-driver`: it exists but no KVM driver answers it;
 * - `open-failed`: opening it failed for another reason;
 * - `not-kvm`: it opens but is not a KVM device;
 * - `api-version`: it reports a KVM API version other than 12;
 * - `create-vm-failed`, `create-vcpu-failed`: KVM is present but cannot run VMs here (another
 *   hypervisor holds the CPU, nested virtualisation is off, out of memory or file descriptors).
 * @public
 */
export type HypervisorProblem =
  | 'device-missing'
  | 'permission-denied'
  | 'no-driver'
  | 'open-failed'
  | 'not-kvm'
  | 'api-version'
  | 'create-vm-failed'
  | 'create-vcpu-failed';

/**
 * Ownership of the KVM device, and who is asking.
 * @public
 */
export interface DeviceAccess {
  /** The effective user id of this process, or `null` when unknown. */
  readonly uid: number | null;
  /** The user id that owns the device. */
  readonly ownerUid: number;
  /** The group of the device: its name, or its id when it has no name. */
  readonly group: string;
  /** The group id of the device. */
  readonly groupId: number;
  /** The permission bits in octal, e.g. `'660'`. */
  readonly mode: string;
}

/**
 * What {@link checkHypervisor} learnt about the host.
 * @public
 */
export interface HostInfo {
  /** `'vmx'` (Intel VT-x) or `'svm'` (AMD-V) when the CPU flags list it, else `null`. */
  readonly cpuVirtualisation: 'vmx' | 'svm' | null;
  /** This machine is itself a virtual machine (the CPU's `hypervisor` flag). */
  readonly underHypervisor: boolean;
  /** Nested virtualisation: a virtual machine whose CPU exposes VT-x/AMD-V. */
  readonly nested: boolean;
  /**
   * KVM is provided by the PVM module (`kvm_pvm`): guests run without hardware virtualisation,
   * and every exit costs more (see the project's `docs/performance.md`).
   */
  readonly pvm: boolean;
  /** Loaded kernel modules named `kvm` or `kvm_*`, sorted. */
  readonly kvmModules: readonly string[];
  /** This process runs in a container (a Docker or Podman marker file exists). */
  readonly inContainer: boolean;
}

/**
 * What KVM reported when the check passed.
 * @public
 */
export interface KvmInfo {
  /** The KVM API version: always 12. */
  readonly apiVersion: number;
  /** The vCPU count KVM recommends per VM. */
  readonly recommendedVcpus: number;
  /** The most vCPUs KVM allows per VM. */
  readonly maxVcpus: number;
}

/**
 * The result of {@link checkHypervisor}.
 * @public
 */
export interface HypervisorCheck {
  /** Whether this process can run micro-VMs. */
  readonly ok: boolean;
  /** The device checked: `/dev/kvm`. */
  readonly device: string;
  /** What is wrong, or `null` when `ok`. */
  readonly problem: HypervisorProblem | null;
  /** The diagnosis in a paragraph (also when `ok`: what KVM reported). */
  readonly message: string;
  /** What to do about the problem, or `null` when `ok`. */
  readonly whatToDo: string | null;
  /** Whether the device node exists. */
  readonly devicePresent: boolean;
  /** The group to join for access to the device, when permission was denied; else `null`. */
  readonly groupToJoin: string | null;
  /** Ownership of the device, when it exists; else `null`. */
  readonly access: DeviceAccess | null;
  /** What was learnt about the host. */
  readonly host: HostInfo;
  /** What KVM reported, when `ok`; else `null`. */
  readonly kvm: KvmInfo | null;
}

/**
 * Checks that this process can run micro-VMs, and says what is wrong when it cannot: it opens
 * `/dev/kvm`, checks the KVM API version, creates a VM and a vCPU and closes them again (about
 * 10 ms, synchronous). It is the same check as Rust's `hyperlight_js::check_hypervisor()` and the
 * repository's `kvm-preflight` binary. `SandboxBuilder.build()` rejects with `ERR_NO_HYPERVISOR`
 * and this diagnosis in the message when there is no usable hypervisor.
 *
 * @example
 * ```ts
 * const check = checkHypervisor();
 * if (!check.ok) {
 *   console.error(`${check.problem}: ${check.whatToDo}`);
 *   process.exit(1);
 * }
 * ```
 * @throws {@link NativeBindingError} (`ERR_NO_NATIVE_BINDING`) when the native binding cannot be
 * loaded on this platform: then no hypervisor can be used either.
 * @public
 */
export function checkHypervisor(): HypervisorCheck {
  const check = preparedBinding().checkHypervisor as () => Partial<HypervisorCheck>;
  // The binding leaves absent values undefined; the documented shape has null.
  const raw = check();
  const host = raw.host as HostInfo;
  return {
    ok: raw.ok === true,
    device: String(raw.device),
    problem: raw.problem ?? null,
    message: String(raw.message),
    whatToDo: raw.whatToDo ?? null,
    devicePresent: raw.devicePresent === true,
    groupToJoin: raw.groupToJoin ?? null,
    access: raw.access ? { ...raw.access, uid: raw.access.uid ?? null } : null,
    host: { ...host, cpuVirtualisation: host.cpuVirtualisation ?? null },
    kvm: raw.kvm ?? null,
  };
}
