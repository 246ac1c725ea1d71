package io.gemmaserving.operator.api;

/**
 * Regular expressions the CRDs check at admission (OpenAPI patterns and CEL rules) and the operator's code checks
 * again, written once. They avoid backslashes so the same text works in a CEL string, an OpenAPI pattern (RE2) and
 * java.util.regex alike.
 */
public final class Grammar {

    /** DNS-1123 subdomain: a ServingRuntime's name, a Secret's, a PriorityClass's (at most 253 characters). */
    public static final String DNS1123_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

    /**
     * DNS-1035 label: a GemmaModel's name, which every child takes (a Service name is a DNS-1035 label, and label
     * values are at most 63 characters). Names that do not fit are refused at admission rather than truncated.
     */
    public static final String DNS1035_LABEL = "^[a-z]([-a-z0-9]*[a-z0-9])?$";
    public static final int MAX_MODEL_NAME = 63;

    /** An environment variable name, the rule Kubernetes applied before 1.34 relaxed it (so every cluster takes it). */
    public static final String ENV_NAME = "^[-._a-zA-Z][-._a-zA-Z0-9]*$";

    /** A label value (the GPU product becomes the nodeSelector's nvidia.com/gpu.product), at most 63 characters. */
    public static final String LABEL_VALUE = "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";

    /** A Secret's data key. */
    public static final String SECRET_KEY = "^[-._a-zA-Z0-9]+$";

    /** A Kubernetes quantity (resource.Quantity's grammar, as controller-gen writes it into CRDs). */
    public static final String QUANTITY =
            "^[+-]?(([0-9]+([.][0-9]*)?)|([.][0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+([.][0-9]*)?)|([.][0-9]+))))?$";

    private static final String PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
    private static final String DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    private static final String DOMAIN = DOMAIN_COMPONENT + "(?:[.]" + DOMAIN_COMPONENT + ")*(?::[0-9]+)?";
    private static final String TAG = "[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}";
    private static final String DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";

    /**
     * An image reference, [registry[:port]/]repository[:tag][@digest], by the grammar of distribution/reference (what
     * container runtimes parse), unanchored; IPv6 registry addresses are left out.
     */
    public static final String IMAGE_REFERENCE = "(?:" + DOMAIN + "/)?" + PATH_COMPONENT + "(?:/" + PATH_COMPONENT + ")*"
            + "(?::" + TAG + ")?(?:@" + DIGEST + ")?";

    private Grammar() {
    }
}
