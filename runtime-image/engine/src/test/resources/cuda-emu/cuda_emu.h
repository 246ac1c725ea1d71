// Test support: CUDA's execution model on the host, so that the engine's kernel sources (src/main/resources/cuda)
// compile unchanged with g++ and run on the CPU. Included before the .cu file by the harness that
// CudaEmulator.java generates; nothing in the product uses it.
//
// Modelled:
//   - a grid of blocks, run one block after another on the calling thread (kernels must not rely on blocks
//     running at the same time, which CUDA does not promise either);
//   - a block's threads as fibers (ucontext) on that thread, each with its own stack, so per-thread locals are
//     private; a fiber runs until it reaches a barrier or a warp operation, then the next one runs. The order the
//     fibers run in changes on every pass (a seeded shuffle), so a missing barrier shows as a wrong result;
//   - __syncthreads(): every thread of the block meets there. A thread that has returned while others wait at a
//     barrier is an error (CUDA: undefined behaviour; the block's barrier count never completes in general);
//   - warps of 32 consecutive threads: __shfl_*_sync (and __syncwarp) exchange values through a per-thread slot between two warp
//     rendezvous; every lane of a full mask must take part, lanes that exited or sit at a different operation are
//     an error (CUDA: undefined behaviour). Only the full mask 0xffffffff and width 32 are supported;
//   - __shared__ variables live in one section of the library; it is filled with 0xff bytes (NaN as float,
//     -1 as int) before every block, so a read of shared memory nobody wrote in that block poisons the result;
//   - atomics: plain read-modify-write, exact because only one fiber runs at a time;
//   - the math functions and bit casts the kernels use, with the host's libm (correctly rounded or within 1 ulp,
//     where CUDA's are within 1 to 4 ulp: the tests' tolerances cover the device's bounds).
// Not modelled: a memory model beyond the barriers (every write is seen at once by every fiber), concurrency
// between blocks, memory spaces (device pointers are host addresses), warp-synchronous code without *_sync
// intrinsics, launch bounds, occupancy, streams. Out-of-bounds accesses are not caught (they hit host memory).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
#include <sys/mman.h>
#include <ucontext.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
// Every __shared__ variable goes into section emu_shared, which the linker brackets with __start_/__stop_ symbols.
#define __shared__ static __attribute__((section("emu_shared")))

struct uint3 { unsigned int x, y, z; };
struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
};
// CUDA's vector types, with their alignment (a 16-byte load of a misaligned address is a fault on the device; here
// it is merely undefined behaviour of the host compiler, so the kernels' own alignment rules must hold).
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) uint2 { unsigned int x, y; };
struct alignas(16) uint4 { unsigned int x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
template <typename T>
T __ldg(const T* p) { return *p; }

namespace emu {

constexpr int kWarp = 32;
constexpr size_t kStack = 256 * 1024;
constexpr size_t kMaxShared = 48 * 1024; // CUDA's default per-block limit without an opt-in attribute

enum class State { Ready, AtBarrier, AtWarp, Done };

struct Fiber {
    ucontext_t ctx;
    State state;
    const char* op; // the warp operation it waits at (all lanes must agree)
    uint64_t slot;  // value it offers to its warp in a shuffle
};

struct Launch {
    std::vector<Fiber> fibers;
    ucontext_t scheduler;
    std::function<void()> body; // the kernel call, the same for every thread
    int current = -1;
    std::string error;
};

// The state of the running launch. One launch at a time (a mutex in launch()), all on one OS thread.
inline Launch* g_launch = nullptr;
inline uint3 g_thread, g_block;
inline dim3 g_block_dim, g_grid_dim;

[[noreturn]] inline void fail_and_park(const std::string& what) {
    // A fault inside a thread: record it and never resume this fiber; the scheduler stops the launch.
    Launch* l = g_launch;
    if (l->error.empty()) l->error = what;
    l->fibers[l->current].state = State::Done;
    swapcontext(&l->fibers[l->current].ctx, &l->scheduler);
    __builtin_unreachable();
}

inline void wait(State s, const char* op) {
    Launch* l = g_launch;
    Fiber& f = l->fibers[l->current];
    f.state = s;
    f.op = op;
    swapcontext(&f.ctx, &l->scheduler);
}

inline void thread_entry() {
    g_launch->body();
    g_launch->fibers[g_launch->current].state = State::Done; // uc_link returns to the scheduler
}

}  // namespace emu

// CUDA's built-in variables, as seen by the fiber that runs (the scheduler sets them before resuming one).
#define threadIdx (emu::g_thread)
#define blockIdx (emu::g_block)
#define blockDim (emu::g_block_dim)
#define gridDim (emu::g_grid_dim)
#define warpSize 32

inline void __syncthreads() { emu::wait(emu::State::AtBarrier, "__syncthreads"); }

namespace emu {

inline int lane_id() { return (int) ((threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) % kWarp); }

// One warp-wide exchange: every lane offers v, then reads lane src's offer. Two rendezvous, so that no lane
// overwrites its slot before every lane has read.
template <typename T>
T exchange(const char* op, unsigned mask, int width, T v, int src) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a type wider than 8 bytes");
    if (mask != 0xffffffffu) fail_and_park(std::string(op) + " with a partial mask is not modelled");
    if (width != kWarp) fail_and_park(std::string(op) + " with width != 32 is not modelled");
    Launch* l = g_launch;
    int self = l->current;
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    l->fibers[self].slot = bits;
    wait(State::AtWarp, op);
    uint64_t got = l->fibers[self - lane_id() + src].slot;
    wait(State::AtWarp, op);
    T r;
    std::memcpy(&r, &got, sizeof(T));
    return r;
}

}  // namespace emu

template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
    return emu::exchange("__shfl_xor_sync", mask, width, v, emu::lane_id() ^ (lane_mask & 31));
}
template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    int src = emu::lane_id() + (int) delta;
    return emu::exchange("__shfl_down_sync", mask, width, v, src < 32 ? src : emu::lane_id());
}
template <typename T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    int src = emu::lane_id() - (int) delta;
    return emu::exchange("__shfl_up_sync", mask, width, v, src >= 0 ? src : emu::lane_id());
}
template <typename T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {
    return emu::exchange("__shfl_sync", mask, width, v, src_lane & 31);
}
inline void __syncwarp(unsigned mask = 0xffffffffu) { emu::exchange("__syncwarp", mask, 32, 0, emu::lane_id()); }

// Atomics: one fiber runs at a time and none is switched out inside these, so a plain update is atomic.
template <typename T, typename V>
T atomicAdd(T* p, V v) { T old = *p; *p = old + (T) v; return old; }
template <typename T, typename V>
T atomicMax(T* p, V v) { T old = *p; *p = old < (T) v ? (T) v : old; return old; }
template <typename T, typename V>
T atomicMin(T* p, V v) { T old = *p; *p = (T) v < old ? (T) v : old; return old; }
template <typename T, typename V>
T atomicExch(T* p, V v) { T old = *p; *p = (T) v; return old; }
template <typename T, typename V>
T atomicCAS(T* p, V cmp, V v) { T old = *p; if (old == (T) cmp) *p = (T) v; return old; }

// Bit casts and math as CUDA's device library names them.
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline unsigned int __float_as_uint(float f) { unsigned int i; std::memcpy(&i, &f, 4); return i; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
// expf, tanhf, powf, fmaxf, sincosf (a GNU extension, on by default in g++) ... come from glibc's math.h.

// The section of every __shared__ variable in this library (hidden: each kernel library has its own); weak, so
// that a source without any links too.
extern "C" __attribute__((weak, visibility("hidden"))) unsigned char __start_emu_shared[];
extern "C" __attribute__((weak, visibility("hidden"))) unsigned char __stop_emu_shared[];

namespace emu {

// One launch at a time per library (its state, g_launch and the built-in variables, serves one), whatever the kernel.
inline std::mutex& launch_lock() { static std::mutex m; return m; }

// Thread stacks, kept for the library's life and shared by all its kernels.
inline std::vector<unsigned char*>& stack_pool() { static std::vector<unsigned char*> pool; return pool; }

// A stack with an inaccessible page below it, so that an overflow faults instead of corrupting a neighbour.
inline unsigned char* new_stack() {
    size_t page = 4096;
    void* p = mmap(nullptr, kStack + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    mprotect(p, page, PROT_NONE);
    return (unsigned char*) p + page;
}

// Where each thread is, as runs: "t0-15=__syncthreads t16-31=__shfl_xor_sync".
inline std::string describe(const Launch& l) {
    std::string s;
    auto where = [&](size_t i) -> std::string {
        const Fiber& f = l.fibers[i];
        return f.state == State::Done ? "returned" : f.state == State::AtBarrier ? "__syncthreads" : f.op;
    };
    for (size_t i = 0, j; i < l.fibers.size(); i = j) {
        for (j = i + 1; j < l.fibers.size() && where(j) == where(i);) j++;
        s += " t" + std::to_string(i) + (j - 1 > i ? "-" + std::to_string(j - 1) : "") + "=" + where(i);
    }
    return s;
}

// Releases what can proceed: a warp whose lanes all wait at the same warp operation, else the block when every
// thread waits at __syncthreads. Returns false (with l.error set) when the block is stuck.
inline bool release(Launch& l) {
    int n = (int) l.fibers.size();
    bool any = false;
    for (int w = 0; w < n; w += kWarp) {
        int end = std::min(n, w + kWarp), waiting = 0, done = 0;
        for (int i = w; i < end; i++) {
            waiting += l.fibers[i].state == State::AtWarp;
            done += l.fibers[i].state == State::Done;
        }
        if (waiting == 0) continue;
        if (end - w != kWarp) { l.error = "warp operation in a partial warp (block size not a multiple of 32)"; return false; }
        if (waiting != kWarp) continue; // others still on their way, or stuck elsewhere (decided below)
        for (int i = w; i < end; i++) {
            if (std::strcmp(l.fibers[i].op, l.fibers[w].op) != 0) {
                l.error = std::string("warp ") + std::to_string(w / kWarp) + " lanes at different operations: "
                        + l.fibers[w].op + " and " + l.fibers[i].op;
                return false;
            }
        }
        for (int i = w; i < end; i++) l.fibers[i].state = State::Ready;
        any = true;
    }
    if (any) return true;
    int at_barrier = 0, done = 0;
    for (const Fiber& f : l.fibers) {
        at_barrier += f.state == State::AtBarrier;
        done += f.state == State::Done;
    }
    if (at_barrier == n) {
        for (Fiber& f : l.fibers) f.state = State::Ready;
        return true;
    }
    l.error = done > 0 && at_barrier > 0
            ? "__syncthreads reached while other threads of the block have returned:" + describe(l)
            : "threads stuck (diverged at a barrier or warp operation, or a warp operation after a lane returned):"
                    + describe(l);
    return false;
}

template <typename... A, size_t... I>
void call(void (*kernel)(A...), void** params, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(params[I])...);
}

// Runs kernel<<<grid, block, shared>>>(params) to the end, params as cuLaunchKernel takes them (one pointer per
// parameter, pointing at its value). Returns "" or what went wrong.
template <typename... A>
std::string launch(void (*kernel)(A...), dim3 grid, dim3 block, size_t dyn_shared, void** params, uint64_t seed) {
    std::lock_guard<std::mutex> lock(launch_lock());
    size_t threads = (size_t) block.x * block.y * block.z;
    size_t shared = (size_t) (__stop_emu_shared - __start_emu_shared);
    if (threads == 0 || threads > 1024 || block.z > 64) return "block " + std::to_string(threads) + " threads: out of CUDA's limits";
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535) return "grid out of CUDA's limits";
    if (shared + dyn_shared > kMaxShared) return "shared memory " + std::to_string(shared + dyn_shared) + " bytes > 48 KiB";
    if (dyn_shared > 0) return "dynamic shared memory is not modelled";
    std::vector<unsigned char*>& stacks = stack_pool();
    while (stacks.size() < threads) {
        unsigned char* s = new_stack();
        if (!s) return "out of memory for thread stacks";
        stacks.push_back(s);
    }
    Launch l;
    l.fibers.resize(threads);
    l.body = [&] { call(kernel, params, std::index_sequence_for<A...>{}); };
    g_launch = &l;
    g_grid_dim = grid;
    g_block_dim = block;
    std::vector<int> order(threads);
    for (unsigned bz = 0; bz < grid.z; bz++)
    for (unsigned by = 0; by < grid.y; by++)
    for (unsigned bx = 0; bx < grid.x; bx++) {
        g_block = {bx, by, bz};
        if (shared) std::memset(__start_emu_shared, 0xff, shared);
        for (size_t i = 0; i < threads; i++) {
            Fiber& f = l.fibers[i];
            f.state = State::Ready;
            f.op = "";
            getcontext(&f.ctx);
            f.ctx.uc_stack.ss_sp = stacks[i];
            f.ctx.uc_stack.ss_size = kStack;
            f.ctx.uc_link = &l.scheduler;
            makecontext(&f.ctx, thread_entry, 0);
            order[i] = (int) i;
        }
        for (;;) {
            // One pass: every ready thread runs to its next barrier, warp operation or return, in a new order.
            for (size_t i = threads - 1; i > 0; i--) {
                seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; // xorshift64
                std::swap(order[i], order[seed % (i + 1)]);
            }
            for (int i : order) {
                if (l.fibers[i].state != State::Ready) continue;
                l.current = i;
                g_thread = {(unsigned) (i % block.x), (unsigned) (i / block.x % block.y), (unsigned) (i / (block.x * block.y))};
                swapcontext(&l.scheduler, &l.fibers[i].ctx);
                if (!l.error.empty()) break;
            }
            if (!l.error.empty()) break;
            bool all_done = true;
            for (const Fiber& f : l.fibers) all_done &= f.state == State::Done;
            if (all_done || !release(l)) break;
        }
        if (!l.error.empty()) {
            g_launch = nullptr;
            return "block (" + std::to_string(bx) + "," + std::to_string(by) + "," + std::to_string(bz) + "): " + l.error;
        }
    }
    g_launch = nullptr;
    return "";
}

// The kernel's parameter list as one letter per parameter: i int, l long long, f float, p pointer, ? other.
template <typename... A>
std::string signature(void (*)(A...)) {
    std::string s;
    ((s += std::is_pointer_v<A> ? 'p'
            : std::is_same_v<A, float> ? 'f'
            : std::is_integral_v<A> && sizeof(A) == 4 ? 'i'
            : std::is_integral_v<A> && sizeof(A) == 8 ? 'l' : '?'), ...);
    return s;
}

}  // namespace emu

// One exported launcher and signature per kernel, named emu_launch_<kernel> and emu_signature_<kernel>; the
// library is built with -fvisibility=hidden, so these are its only exports and each library keeps its own state.
// grid and block: 3 unsigned ints each; err: a buffer of err_len bytes for the reason of a failure (return 1).
#define EMU_EXPORT(kernel)                                                                                         \
    extern "C" __attribute__((visibility("default"))) int emu_launch_##kernel(const unsigned* grid, const unsigned* block, unsigned long shared,          \
                                       void** params, unsigned long seed, char* err, int err_len) {                \
        std::string e = emu::launch(kernel, dim3{grid[0], grid[1], grid[2]}, dim3{block[0], block[1], block[2]},  \
                                    shared, params, seed | 1);                                                     \
        std::snprintf(err, err_len, "%s", e.c_str());                                                              \
        return e.empty() ? 0 : 1;                                                                                  \
    }                                                                                                              \
    extern "C" __attribute__((visibility("default"))) int emu_signature_##kernel(char* out, int len) {                                                    \
        return std::snprintf(out, len, "%s", emu::signature(kernel).c_str());                                      \
    }
