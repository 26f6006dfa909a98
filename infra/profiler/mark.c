/*
 * iommu-lab-mark start|stop: executes the marker instruction that the lab's
 * QEMU plugin (infra/profiler/profile.c) recognises, opening or closing the
 * window it counts. Static and tiny: it runs in the guest right before and
 * right after the workload, and what it executes itself is a few hundred
 * instructions.
 */
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    if (strcmp(argv[1], "start") == 0) {
        __asm__ volatile("movabsq $0x4c41424d494f5453, %%r11" ::: "r11");
        return 0;
    }
    if (strcmp(argv[1], "stop") == 0) {
        __asm__ volatile("movabsq $0x4c41424d494f5345, %%r11" ::: "r11");
        return 0;
    }
    return 2;
}
