// Architectural exceptions raised while executing an instruction.
// Faults (#DE, #UD, #GP, #PF, ...) leave RIP at the faulting instruction and
// commit nothing; traps (#BP from int3, #DB single-step) report the next RIP.

export const VEC_DE = 0; // divide error
export const VEC_DB = 1; // debug
export const VEC_NMI = 2;
export const VEC_BP = 3; // int3
export const VEC_UD = 6; // invalid opcode
export const VEC_DF = 8;
export const VEC_SS = 12; // stack-segment fault (non-canonical stack address)
export const VEC_GP = 13;
export const VEC_PF = 14;

/** Page-fault error code bits. */
export const PF_PRESENT = 1, PF_WRITE = 2, PF_USER = 4, PF_FETCH = 16;

export class CpuFault {
  constructor(
    /** Exception vector. */
    readonly vector: number,
    /** Error code pushed on the stack, for vectors that define one. */
    readonly errorCode: number | undefined = undefined,
    /** Faulting linear address (#PF: becomes CR2). */
    readonly addr = 0,
    /** True for traps: the reported RIP is the next instruction (int3). */
    readonly trap = false,
  ) {}
}

export const ud = (): CpuFault => new CpuFault(VEC_UD);
export const gp = (code = 0): CpuFault => new CpuFault(VEC_GP, code);
