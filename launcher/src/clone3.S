// long berth_clone3_run(struct clone_args *args, size_t size, int (*fn)(void *), void *arg)
//
// clone3(2) for a child that gets its own stack (args->stack), as CLONE_VM
// requires: the child cannot return into the caller's frames, so it calls
// fn(arg) on its new stack and exits with its result. The parent gets the
// child's pid or -errno, like the raw system call.

#if defined(__x86_64__)
        .text
        .globl  berth_clone3_run
        .type   berth_clone3_run, @function
berth_clone3_run:
        .cfi_startproc
        push    %r12
        .cfi_adjust_cfa_offset 8
        push    %r13
        .cfi_adjust_cfa_offset 8
        mov     %rdx, %r12              // fn and arg survive the system call in
        mov     %rcx, %r13              // callee-saved registers, in both processes
        mov     $435, %eax              // __NR_clone3
        syscall
        test    %rax, %rax
        jz      1f
        pop     %r13
        .cfi_adjust_cfa_offset -8
        pop     %r12
        .cfi_adjust_cfa_offset -8
        ret
1:      .cfi_undefined rip
        xor     %ebp, %ebp              // the child: outermost frame
        mov     %r13, %rdi
        call    *%r12
        mov     %eax, %edi
        mov     $60, %eax               // __NR_exit
        syscall
        hlt
        .cfi_endproc
        .size   berth_clone3_run, .-berth_clone3_run
#elif defined(__aarch64__)
        .text
        .globl  berth_clone3_run
        .type   berth_clone3_run, %function
berth_clone3_run:
        stp     x19, x20, [sp, #-16]!
        mov     x19, x2
        mov     x20, x3
        mov     x8, #435                // __NR_clone3
        svc     #0
        cbz     x0, 1f
        ldp     x19, x20, [sp], #16
        ret
1:      mov     x29, #0
        mov     x30, #0
        mov     x0, x20
        blr     x19
        mov     x8, #93                 // __NR_exit
        svc     #0
        .size   berth_clone3_run, .-berth_clone3_run
#else
#error "berth_clone3_run supports x86_64 and aarch64"
#endif
        .section .note.GNU-stack,"",%progbits
