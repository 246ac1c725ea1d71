package io.gemmaserving.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The YAML files under samples/ (argocd/ excepted: Argo CD objects, checked by their own tests). */
public final class Samples {

    public static final Path DIR = Path.of("..", "samples");

    private Samples() {
    }

    public static List<Path> files() {
        try (Stream<Path> files = Files.list(DIR)) {
            return files.filter(p -> p.toString().endsWith(".yaml") || p.toString().endsWith(".yml")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every document of every file, parsed into the typed classes where fabric8 knows the kind. */
    public static List<HasMetadata> documents(Path file) {
        try {
            List<HasMetadata> docs = new ArrayList<>();
            for (String doc : Files.readString(file).split("(?m)^---\\s*$")) {
                if (doc.lines().anyMatch(l -> l.startsWith("kind:"))) {
                    docs.add(Serialization.unmarshal(doc));
                }
            }
            return docs;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
