package io.gemmaserving.operator.sizing;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Memory arithmetic: bytes per device = weights / TP + KV cache / TP + overhead, where the KV cache holds
 * {@code contextLength x sequences} tokens (sliding-window layers only their window) and tensor parallelism splits
 * both the weights and the KV heads. The smallest power of two that fits and divides the attention and KV heads wins.
 */
public final class Sizing {

    public static final long GIB = 1L << 30;
    public static final long MIB = 1L << 20;
    /** Per GPU: CUDA context, cuBLAS workspace, activations of a batch, the runtime's own buffers. */
    public static final long GPU_OVERHEAD_BYTES = 1536 * MIB;
    /** Per CPU pod: JVM heap and metaspace, activations, tokenizer. */
    public static final long CPU_OVERHEAD_BYTES = 1024 * MIB;
    /** The CPU runtime keeps K and V in 16-bit floats by default (gemma-server {@code --kv-cache-dtype f16}). */
    public static final double CPU_KV_BYTES_PER_VALUE = 2.0;
    /**
     * GPU pods: K and V in 16-bit floats, vLLM's default KV dtype for bf16 models, and what the CUDA engine stores
     * by default ({@code --kv-cache-dtype f16}; CudaEngineHostTest pins 2 bytes per value: change both together). A
     * 9B model at 8k x 8 sequences fits one 80 GB GPU only then.
     */
    public static final double GPU_KV_BYTES_PER_VALUE = 2.0;
    /** GPUs one pod may split a model across: the GPUs of one node (8 on the largest NVIDIA servers). */
    public static final int MAX_TENSOR_PARALLEL = 8;
    /** The tensor-parallel sizes, powers of two up to {@link #MAX_TENSOR_PARALLEL}, as a CEL list (the CRD rule's). */
    public static final String TENSOR_PARALLEL_SIZES = "[1, 2, 4, 8]";
    public static final int MIN_CONTEXT = 128;

    private Sizing() {
    }

    /** What is being sized. {@code shape} may be null (only the weights are known); weightBytes is always known. */
    public record Model(ModelShape shape, long weightBytes, int contextLength, int sequences) {

        /** KV cache bytes at {@code bytesPerValue} per stored key or value element. */
        public long kvBytes(double bytesPerValue) {
            return shape == null ? 0 : shape.kvBytesPerSequence(contextLength, bytesPerValue) * sequences;
        }

        Model withContext(int context) {
            return new Model(shape, weightBytes, context, sequences);
        }

        public boolean divides(int tp) {
            return shape == null || (shape.attentionHeads() % tp == 0 && shape.kvHeads() % tp == 0);
        }
    }

    /** Outcome for a GPU model: the tensor-parallel size, bytes needed per GPU, and whether that fits. */
    public record GpuPlan(int tensorParallelSize, long bytesPerDevice, long usableBytesPerDevice, boolean fits,
                          String message) {
    }

    public static long bytesPerDevice(Model model, int tp) {
        return ceilDiv(model.weightBytes(), tp) + ceilDiv(model.kvBytes(GPU_KV_BYTES_PER_VALUE), tp) + GPU_OVERHEAD_BYTES;
    }

    /** Memory one CPU pod needs: the whole model, its KV cache and the JVM. */
    public static long cpuBytes(Model model) {
        return model.weightBytes() + model.kvBytes(CPU_KV_BYTES_PER_VALUE) + CPU_OVERHEAD_BYTES;
    }

    /** Tensor-parallel sizes this model allows, ascending: powers of two up to 8 dividing both head counts. */
    public static List<Integer> allowedTensorParallelSizes(Model model) {
        List<Integer> sizes = new ArrayList<>();
        for (int tp = 1; tp <= MAX_TENSOR_PARALLEL; tp *= 2) {
            if (model.divides(tp)) {
                sizes.add(tp);
            }
        }
        return sizes;
    }

    /**
     * Chooses the tensor-parallel size on GPUs of {@code deviceBytes} of which {@code utilization} is usable, or
     * checks the one the user fixed ({@code fixedTp}, may be null).
     */
    public static GpuPlan gpu(Model model, long deviceBytes, double utilization, Integer fixedTp) {
        long usable = (long) (deviceBytes * utilization);
        if (fixedTp != null) {
            long need = bytesPerDevice(model, fixedTp);
            if (!model.divides(fixedTp)) {
                return new GpuPlan(fixedTp, need, usable, false, String.format(Locale.ROOT,
                        "tensorParallelSize %d does not divide the %d attention heads and %d KV heads; allowed: %s",
                        fixedTp, model.shape().attentionHeads(), model.shape().kvHeads(), allowedTensorParallelSizes(model)));
            }
            boolean fits = need <= usable;
            return new GpuPlan(fixedTp, need, usable, fits, fits
                    ? String.format(Locale.ROOT, "%s per GPU at TP=%d of %s usable", gib(need), fixedTp, gib(usable))
                    : String.format(Locale.ROOT, "needs %s per GPU at TP=%d but %s are usable (%.2f x %s)",
                            gib(need), fixedTp, gib(usable), utilization, gib(deviceBytes)));
        }
        List<Integer> allowed = allowedTensorParallelSizes(model);
        for (int tp : allowed) {
            long need = bytesPerDevice(model, tp);
            if (need <= usable) {
                return new GpuPlan(tp, need, usable, true,
                        String.format(Locale.ROOT, "%s per GPU at TP=%d of %s usable", gib(need), tp, gib(usable)));
            }
        }
        return new GpuPlan(allowed.getFirst(), bytesPerDevice(model, 1), usable, false,
                noFitMessage(model, allowed, deviceBytes, utilization, usable));
    }

    /** Says what would fit: bigger GPUs at the largest TP the heads allow, or a shorter context. */
    static String noFitMessage(Model model, List<Integer> allowed, long deviceBytes, double utilization, long usable) {
        int maxTp = allowed.getLast();
        long needAt1 = bytesPerDevice(model, 1);
        long needAtMax = bytesPerDevice(model, maxTp);
        StringBuilder msg = new StringBuilder(String.format(Locale.ROOT,
                "needs %s per GPU at TP=1", gib(needAt1)));
        if (maxTp > 1) {
            msg.append(String.format(Locale.ROOT, " and %s at TP=%d (the largest the heads allow)", gib(needAtMax), maxTp));
        } else if (model.shape() != null) {
            msg.append(String.format(Locale.ROOT, " (TP=1 only: %d KV head%s)", model.shape().kvHeads(),
                    model.shape().kvHeads() == 1 ? "" : "s"));
        }
        msg.append(String.format(Locale.ROOT, ", over the %s usable per GPU (%.2f x %s): fits at TP=%d on GPUs of %s or more",
                gib(usable), utilization, gib(deviceBytes), maxTp, gib((long) Math.ceil(needAtMax / utilization))));
        int context = largestFittingContext(model, maxTp, usable);
        if (context >= MIN_CONTEXT) {
            msg.append(String.format(Locale.ROOT, ", or set serving.maxContextLength <= %d at TP=%d", context, maxTp));
        }
        return msg.toString();
    }

    /** Largest context (multiple of 128) whose per-GPU need fits at {@code tp}; 0 when not even the minimum fits. */
    public static int largestFittingContext(Model model, int tp, long usable) {
        if (model.shape() == null || bytesPerDevice(model.withContext(MIN_CONTEXT), tp) > usable) {
            return 0;
        }
        int lo = MIN_CONTEXT;
        int hi = Math.max(model.contextLength(), MIN_CONTEXT);
        while (hi - lo > 128) { // invariant: lo fits
            int mid = ((lo + hi) / 2) / 128 * 128;
            if (mid <= lo) {
                break;
            }
            if (bytesPerDevice(model.withContext(mid), tp) <= usable) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /** Whole mebibytes, rounded up: what a memory request is written in. */
    public static long ceilToMebibytes(long bytes) {
        return ceilDiv(bytes, MIB);
    }

    public static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) GIB);
    }
}
