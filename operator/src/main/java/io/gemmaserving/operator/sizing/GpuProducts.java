package io.gemmaserving.operator.sizing;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Memory of the GPUs the operator knows, by the product label NVIDIA's GPU feature discovery puts on nodes
 * (nvidia.com/gpu.product, e.g. NVIDIA-H100-80GB-HBM3, NVIDIA-A100-SXM4-40GB, Tesla-T4). Figures are the MiB
 * nvidia-smi reports. First match wins, so the more specific names come first (L40S before L4).
 */
public final class GpuProducts {

    record Product(String[] mustContain, long mebibytes, String display) {
    }

    private static final List<Product> PRODUCTS = List.of(
            new Product(new String[] {"H200"}, 143_771, "H200 141GB"),
            new Product(new String[] {"H100", "94GB"}, 95_830, "H100 NVL 94GB"),
            new Product(new String[] {"H100"}, 81_559, "H100 80GB"),
            new Product(new String[] {"A100", "80GB"}, 81_920, "A100 80GB"),
            new Product(new String[] {"A100"}, 40_960, "A100 40GB"),
            new Product(new String[] {"L40S"}, 46_068, "L40S 48GB"),
            new Product(new String[] {"L4"}, 23_034, "L4 24GB"),
            new Product(new String[] {"A10G"}, 23_028, "A10G 24GB"),
            new Product(new String[] {"T4"}, 15_360, "T4 16GB"));

    private GpuProducts() {
    }

    /** Bytes of memory of one GPU of this product, if known. */
    public static Optional<Long> memoryBytes(String product) {
        if (product == null) {
            return Optional.empty();
        }
        String p = product.toUpperCase(Locale.ROOT);
        for (Product candidate : PRODUCTS) {
            boolean all = true;
            for (String part : candidate.mustContain()) {
                all &= p.contains(part);
            }
            if (all) {
                return Optional.of(candidate.mebibytes() * 1024 * 1024);
            }
        }
        return Optional.empty();
    }
}
