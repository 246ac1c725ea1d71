package io.gemmaserving.operator.cluster;

import java.nio.file.Files;
import java.nio.file.Path;

/** The repository's root (where crds/, deploy/, bundle/ and samples/ live), found upwards from the working directory. */
public final class Repo {
    private Repo() {
    }

    public static Path root() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            if (Files.isRegularFile(dir.resolve("hack/env.sh")) && Files.isRegularFile(dir.resolve("mvnw"))) return dir;
            dir = dir.getParent();
        }
        throw new IllegalStateException("repository root (with hack/env.sh and mvnw) not found above "
                + Path.of("").toAbsolutePath());
    }
}
