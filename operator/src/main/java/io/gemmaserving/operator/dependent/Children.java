package io.gemmaserving.operator.dependent;

/** Constants shared by the child builders. */
public final class Children {
    /** Informers of the children cache only what this operator made. */
    public static final String MANAGED_SELECTOR = "app.kubernetes.io/managed-by=gemma-operator";
    public static final int SERVICE_PORT = 80;

    private Children() {
    }
}
