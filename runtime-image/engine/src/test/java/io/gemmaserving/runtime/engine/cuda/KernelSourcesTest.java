package io.gemmaserving.runtime.engine.cuda;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link KernelSources} lists every kernel there is, so that {@link KernelCompileTest} compiles each with NVRTC,
 * and every kernel has a test on the CUDA emulation. Needs neither NVRTC nor g++.
 */
@Tag("unit")
class KernelSourcesTest {

    private static final Pattern KERNEL = Pattern.compile("extern\\s+\"C\"\\s+__global__\\s+void\\s+(\\w+)\\s*\\(");

    private static List<Path> resources() throws IOException, URISyntaxException {
        Path dir = Path.of(KernelSources.class.getResource("/cuda").toURI());
        try (Stream<Path> files = Files.list(dir)) {
            return files.sorted().toList();
        }
    }

    @Test
    void everySourceFileAndHeaderIsListed() throws IOException, URISyntaxException {
        TreeSet<String> cu = new TreeSet<>(), cuh = new TreeSet<>();
        for (Path p : resources()) {
            String name = p.getFileName().toString();
            (name.endsWith(".cuh") ? cuh : cu).add(name);
        }
        assertEquals(cu, new TreeSet<>(KernelSources.ENTRIES.keySet()), "kernel sources in /cuda vs ENTRIES");
        assertEquals(cuh, new TreeSet<>(KernelSources.HEADERS), "headers in /cuda vs HEADERS");
    }

    @Test
    void everyKernelInTheSourcesIsListed() throws IOException, URISyntaxException {
        Map<String, TreeSet<String>> found = new TreeMap<>();
        for (Path p : resources()) {
            String name = p.getFileName().toString();
            if (name.endsWith(".cu")) {
                found.put(name, KERNEL.matcher(Files.readString(p)).results().map(r -> r.group(1))
                        .collect(java.util.stream.Collectors.toCollection(TreeSet::new)));
            }
        }
        Map<String, TreeSet<String>> listed = new TreeMap<>();
        KernelSources.ENTRIES.forEach((file, kernels) -> listed.put(file, new TreeSet<>(kernels)));
        assertEquals(found, listed);
    }

    @Test
    void everyKernelIsCheckedOnTheEmulation() {
        TreeSet<String> tested = new TreeSet<>();
        Stream.of(QuantKernelsEmuTest.KERNELS, NormRopeKernelsEmuTest.KERNELS, ElementwiseKernelsEmuTest.KERNELS,
                AttentionKernelsEmuTest.KERNELS).forEach(tested::addAll);
        TreeSet<String> all = new TreeSet<>();
        KernelSources.ENTRIES.values().forEach(all::addAll);
        assertEquals(all, tested, "kernels with an emulation test vs all kernels");
    }
}
