/*
 * iommu-lab's QEMU TCG plugin: counts, for every translated block of guest
 * kernel code, how often it ran, and the guest's user-mode instructions in
 * one sum; between two marker instructions that the guest executes right
 * before and right after a workload (`iommu-lab-mark start|stop`), it writes
 * what ran in that window to OUT/window-SEQ.tsv. The lab attributes blocks to
 * kernel functions with the guest's /proc/kallsyms: instructions per
 * function = sum of executions x instructions of its blocks, calls = executions
 * of the block that starts at the function's first address.
 *
 * Counting happens outside the guest: the guest's own instruction stream and
 * clock are not touched, so a count does not depend on how busy the host is.
 *
 * Arguments (QEMU: -plugin PATH,out=DIR[,count=inline|callback][,slots=N]):
 *   out     directory for window files (writable by QEMU's user)
 *   count   inline: a per-vCPU add compiled into each block (cheapest);
 *           callback: a call per block. QEMU 10.0 aborts a boot with
 *           -icount and two or more vCPUs when inline per-vCPU ops are
 *           loaded ("Bad icount read"); the lab uses callback there.
 *   slots   distinct kernel blocks counted one by one (default 524288);
 *           blocks past that are summed as overflow instructions.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-plugin-api.h"

LAB_PLUGIN_EXPORT int qemu_plugin_version = LAB_PLUGIN_API_VERSION;

/* x86-64: the kernel half of the address space. */
#define KERNEL_BASE 0xffff800000000000ULL
/* The marker: movabs $MAGIC, %r11 (REX.W+B 0x49, 0xbb, imm64), never emitted by a compiler for real work. */
#define MARK_START 0x4c41424d494f5453ULL /* "STOIMBAL" little endian: arbitrary, fixed */
#define MARK_STOP  0x4c41424d494f5345ULL
#define MARK_LEN 10

/* Slot 0: user-mode instructions; slot 1: instructions of kernel blocks past the slot limit. */
enum { SLOT_USER = 0, SLOT_OVERFLOW = 1, FIRST_BLOCK_SLOT = 2 };

typedef enum { COUNT_INLINE, COUNT_CALLBACK } count_mode;

static count_mode mode = COUNT_INLINE;
static const char *out_dir;
static size_t max_slots = 1u << 19;

static struct qemu_plugin_scoreboard *board; /* per vCPU: uint64_t[max_slots] */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Block identity (start address, instruction count) -> slot; open addressing, guarded by lock. */
static uint64_t *slot_pc;
static uint32_t *slot_insns;
static size_t slots_used = FIRST_BLOCK_SLOT;
static uint32_t *table; /* slot + 1, 0 = empty */
static size_t table_size;

/* The window: counters at its start, and how many windows ended. */
static uint64_t *window_base;
static size_t window_base_used;
static bool window_open;
static unsigned long window_seq;

static size_t hash_of(uint64_t pc, uint32_t n)
{
    uint64_t h = (pc ^ ((uint64_t)n << 52)) * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 17) & (table_size - 1);
}

/* The slot of a kernel block, or SLOT_OVERFLOW when every slot is taken. */
static size_t slot_of(uint64_t pc, uint32_t n)
{
    size_t slot = SLOT_OVERFLOW;
    pthread_mutex_lock(&lock);
    for (size_t i = hash_of(pc, n);; i = (i + 1) & (table_size - 1)) {
        uint32_t e = table[i];
        if (e == 0) {
            if (slots_used < max_slots) {
                slot = slots_used++;
                slot_pc[slot] = pc;
                slot_insns[slot] = n;
                table[i] = (uint32_t)slot + 1;
            }
            break;
        }
        if (slot_pc[e - 1] == pc && slot_insns[e - 1] == n) {
            slot = e - 1;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    return slot;
}

/* Callback counting: userdata packs slot << 16 | amount (a block has at most 512 instructions). */
static void on_block_exec(unsigned int vcpu, void *ud)
{
    uintptr_t v = (uintptr_t)ud;
    uint64_t *c = qemu_plugin_scoreboard_find(board, vcpu);
    c[v >> 16] += v & 0xffff;
}

static void count_block(struct qemu_plugin_tb *tb, size_t slot, uint64_t amount)
{
    if (mode == COUNT_INLINE) {
        qemu_plugin_u64 entry = { board, slot * sizeof(uint64_t) };
        qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(tb, QEMU_PLUGIN_INLINE_ADD_U64, entry, amount);
    } else {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block_exec, QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)(((uintptr_t)slot << 16) | (uintptr_t)amount));
    }
}

static uint64_t total_of(size_t slot, int vcpus)
{
    uint64_t sum = 0;
    for (int v = 0; v < vcpus; v++) {
        sum += ((uint64_t *)qemu_plugin_scoreboard_find(board, v))[slot];
    }
    return sum;
}

static void open_window(void)
{
    int vcpus = qemu_plugin_num_vcpus();
    window_base_used = slots_used;
    for (size_t s = 0; s < window_base_used; s++) {
        window_base[s] = total_of(s, vcpus);
    }
    window_open = true;
}

/* Writes the window's counts to OUT/window-SEQ.tsv, through a temporary file: a reader never sees half of it. */
static void close_window(void)
{
    int vcpus = qemu_plugin_num_vcpus();
    unsigned long seq = ++window_seq;
    char tmp[4096], final[4096];
    snprintf(tmp, sizeof tmp, "%s/.window-%lu.tmp", out_dir, seq);
    snprintf(final, sizeof final, "%s/window-%lu.tsv", out_dir, seq);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        char msg[4200];
        snprintf(msg, sizeof msg, "iommu-lab-profile: cannot write %s: %s\n", tmp, strerror(errno));
        qemu_plugin_outs(msg);
        window_open = false;
        return;
    }
    size_t used = slots_used;
    fprintf(f, "# iommu-lab-profile window\nseq\t%lu\nvcpus\t%d\nmode\t%s\nslots\t%zu\t%zu\n", seq, vcpus,
            mode == COUNT_INLINE ? "inline" : "callback", used, max_slots);
    for (size_t s = 0; s < used; s++) {
        uint64_t now = total_of(s, vcpus);
        uint64_t d = now - (s < window_base_used ? window_base[s] : 0);
        if (d == 0) continue;
        if (s == SLOT_USER) fprintf(f, "user\t%llu\n", (unsigned long long)d);
        else if (s == SLOT_OVERFLOW) fprintf(f, "overflow\t%llu\n", (unsigned long long)d);
        else fprintf(f, "b\t%llx\t%u\t%llu\n", (unsigned long long)slot_pc[s], slot_insns[s], (unsigned long long)d);
    }
    fprintf(f, "end\n");
    if (fclose(f) != 0 || rename(tmp, final) != 0) {
        qemu_plugin_outs("iommu-lab-profile: writing a window failed\n");
    }
    window_open = false;
}

static void on_mark(unsigned int vcpu, void *ud)
{
    (void)vcpu;
    pthread_mutex_lock(&lock);
    if ((uintptr_t)ud == 1) open_window();
    else if (window_open) close_window();
    pthread_mutex_unlock(&lock);
}

/* 1 start, 2 stop, 0 not a marker. */
static int marker_kind(const struct qemu_plugin_insn *insn)
{
    uint8_t b[MARK_LEN];
    if (qemu_plugin_insn_size(insn) != MARK_LEN || qemu_plugin_insn_data(insn, b, MARK_LEN) != MARK_LEN) return 0;
    if (b[0] != 0x49 || b[1] != 0xbb) return 0;
    uint64_t imm = 0;
    for (int i = 9; i >= 2; i--) imm = imm << 8 | b[i];
    return imm == MARK_START ? 1 : imm == MARK_STOP ? 2 : 0;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    uint64_t pc = qemu_plugin_tb_vaddr(tb);
    size_t n = qemu_plugin_tb_n_insns(tb);
    if (pc >= KERNEL_BASE) {
        size_t slot = slot_of(pc, (uint32_t)n);
        count_block(tb, slot, slot == SLOT_OVERFLOW ? n : 1);
        return;
    }
    count_block(tb, SLOT_USER, n);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        int kind = marker_kind(insn);
        if (kind) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)kind);
    }
}

static int fail(const char *why)
{
    char msg[512];
    snprintf(msg, sizeof msg, "iommu-lab-profile: %s\n", why);
    qemu_plugin_outs(msg);
    fputs(msg, stderr);
    return -1;
}

/* Says it is loaded and how: the lab's preflight reads OUT/loaded. */
static int write_loaded(const qemu_info_t *info)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/loaded", out_dir);
    FILE *f = fopen(path, "w");
    if (!f) return fail("cannot write to the out= directory (it must exist and be writable by QEMU's user)");
    fprintf(f, "api\t%d\t%d\nplugin_api\t%d\nmode\t%s\nslots\t%zu\nvcpus\t%d\n", info->version.min, info->version.cur,
            LAB_PLUGIN_API_VERSION, mode == COUNT_INLINE ? "inline" : "callback", max_slots, info->system.max_vcpus);
    return fclose(f) == 0 ? 0 : fail("writing OUT/loaded failed");
}

LAB_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    if (info->version.cur < LAB_PLUGIN_API_VERSION || info->version.min > LAB_PLUGIN_API_VERSION) {
        char why[160];
        snprintf(why, sizeof why, "this QEMU offers plugin API %d..%d; the profiler needs %d (QEMU 9.2 to 10.x)",
                 info->version.min, info->version.cur, LAB_PLUGIN_API_VERSION);
        return fail(why);
    }
    if (!info->system_emulation || strcmp(info->target_name, "x86_64") != 0) {
        return fail("only x86_64 system emulation is supported");
    }
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) out_dir = argv[i] + 4;
        else if (strcmp(argv[i], "count=inline") == 0) mode = COUNT_INLINE;
        else if (strcmp(argv[i], "count=callback") == 0) mode = COUNT_CALLBACK;
        else if (strncmp(argv[i], "slots=", 6) == 0) max_slots = strtoul(argv[i] + 6, NULL, 10);
        else return fail("unknown argument (expected out=DIR, count=inline|callback, slots=N)");
    }
    if (!out_dir) return fail("out=DIR is required");
    if (max_slots < 1024 || max_slots > (1u << 24)) return fail("slots= must be between 1024 and 16777216");
    for (table_size = 1; table_size < 2 * max_slots; table_size <<= 1) {}
    slot_pc = calloc(max_slots, sizeof *slot_pc);
    slot_insns = calloc(max_slots, sizeof *slot_insns);
    window_base = calloc(max_slots, sizeof *window_base);
    table = calloc(table_size, sizeof *table);
    if (!slot_pc || !slot_insns || !window_base || !table) return fail("out of memory");
    board = qemu_plugin_scoreboard_new(max_slots * sizeof(uint64_t));
    if (write_loaded(info) != 0) return -1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    return 0;
}
