package io.gemmaserving.operator.node;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The images a real node pulls, from the local registry hack/registry.sh runs (hack/images.sh builds and pushes them):
 * the CPU runtime server, the operator and the Gemma 3 270M modelcar (KServe's layout: the GGUF under /models, and sh).
 */
public final class Images {

    /** host:port of the registry (GEMMA_REGISTRY_ADDR, as hack/registry.sh reads it). */
    public static final String REGISTRY = env("GEMMA_REGISTRY_ADDR", "localhost:5000");
    /*
     * Each by digest, as a release names its related images: the node keeps what it pulled across runs
     * (hack/node.sh), and with a tag alone an image rebuilt under the same tag would never be pulled again.
     */
    public static final String RUNTIME = pinned(REGISTRY + "/gemma-serving/gemma-runtime:0.1.0");
    public static final String OPERATOR = pinned(REGISTRY + "/gemma-serving/gemma-operator:0.1.0");
    public static final String MODELCAR = pinned(REGISTRY + "/gemma-serving/modelcar-gemma-3-270m:q4_k_m");
    /** The GGUF's name under the modelcar's /models. */
    public static final String MODELCAR_FILE = "gemma-3-270m-q4_k_m.gguf";

    private Images() {
    }

    /** Empty when the registry answers and holds every image; otherwise why not, naming what makes them. */
    public static Optional<String> missing() {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        try {
            int status = http.send(HttpRequest.newBuilder(URI.create("http://" + REGISTRY + "/v2/"))
                    .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.discarding()).statusCode();
            if (status != 200) return Optional.of("registry http://" + REGISTRY + "/v2/ answers " + status);
        } catch (IOException e) {
            return Optional.of("no registry at http://" + REGISTRY + " (run hack/registry.sh start): " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.of("interrupted");
        }
        // pinned() found a digest for each image the registry holds: one without is absent
        List<String> absent = new ArrayList<>();
        for (String image : List.of(RUNTIME, OPERATOR, MODELCAR)) {
            if (!image.contains("@")) absent.add(image);
        }
        return absent.isEmpty() ? Optional.empty()
                : Optional.of("images absent from the registry (run hack/images.sh): " + absent);
    }

    /** {@code image@sha256:...} with the digest the registry holds now; the tag alone when it does not answer. */
    static String pinned(String image) {
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            return head(http, image).filter(r -> r.statusCode() == 200)
                    .flatMap(r -> r.headers().firstValue("Docker-Content-Digest"))
                    .map(d -> image + "@" + d).orElse(image);
        }
    }

    /** HEAD of the manifest of {@code registry/name:tag}. */
    private static Optional<HttpResponse<Void>> head(HttpClient http, String image) {
        String path = image.substring(REGISTRY.length() + 1);
        int colon = path.lastIndexOf(':');
        URI manifest = URI.create("http://" + REGISTRY + "/v2/" + path.substring(0, colon) + "/manifests/"
                + path.substring(colon + 1));
        try {
            return Optional.of(http.send(HttpRequest.newBuilder(manifest).timeout(Duration.ofSeconds(5))
                    .header("Accept", String.join(",", "application/vnd.oci.image.index.v1+json",
                            "application/vnd.oci.image.manifest.v1+json",
                            "application/vnd.docker.distribution.manifest.v2+json",
                            "application/vnd.docker.distribution.manifest.list.v2+json"))
                    .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.discarding()));
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v.trim();
    }
}
