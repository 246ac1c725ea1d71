package io.gemmaserving.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Quantity;

/** The weights: where, which format, which variant. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "self.uri.startsWith('oci://') || self.uri.startsWith('pvc://')",
        message = "unsupported URI scheme: use oci://<image> (a modelcar image holding /models) or pvc://<claim>/<path>",
        fieldPath = ".uri", reason = "FieldValueInvalid")
@ValidationRule(value = "!self.uri.startsWith('oci://') || self.uri.matches('^oci://" + Grammar.IMAGE_REFERENCE + "$')",
        message = "an oci:// URI is oci://[registry[:port]/]repository[:tag][@digest] (the image reference grammar:"
                + " lower-case repository, no spaces)", fieldPath = ".uri")
@ValidationRule(value = "!self.uri.startsWith('pvc://') || self.uri.matches('^pvc://[a-z0-9]([-a-z0-9]*[a-z0-9])?(/[^/].*)?$')",
        message = "a pvc:// URI is pvc://<claim name>/<path inside the claim>", fieldPath = ".uri")
@ValidationRule(value = "!has(self.modelcar) || self.modelcar == 'sidecar' || self.uri.startsWith('oci://')",
        message = "modelcar applies to oci:// sources only", fieldPath = ".modelcar")
@ValidationRule(value = "!has(self.file) || (!self.file.startsWith('/') && !self.file.contains('..'))",
        message = "file is a relative path inside the model directory, without '..'", fieldPath = ".file")
public class ModelSource {

    @Required
    @Size(min = 7, max = 2048)
    @JsonPropertyDescription("oci://<registry>/<repository>:<tag> for a modelcar image holding the model under /models,"
            + " or pvc://<claim>/<path> for a directory (or a .gguf file) on a PersistentVolumeClaim.")
    public String uri;

    @JsonPropertyDescription("gguf or safetensors. When absent: gguf if file (or the pvc:// path) ends in .gguf, else safetensors.")
    public ModelFormat format;

    @JsonPropertyDescription("The file inside the model directory the runtime loads (a GGUF file, e.g. gemma-3-270m-it-Q4_K_M.gguf)."
            + " Absent: the runtime gets the directory (safetensors).")
    @Pattern("^[^\\s]+$")
    public String file;

    @JsonPropertyDescription("The Gemma variant, e.g. gemma-2-9b-it or gemma-3-270m-it, so sizing needs no download."
            + " Known: gemma-2b, gemma-7b, gemma-2-2b, gemma-2-9b, gemma-2-27b, gemma-3-270m, gemma-3-1b, gemma-3-4b,"
            + " gemma-3-12b, gemma-3-27b (each with -it or -pt). Unknown variants need architecture for sizing.")
    @Pattern("^[a-z0-9][a-z0-9.-]*$")
    public String variant;

    @JsonPropertyDescription("How an oci:// image reaches the runtime: sidecar (default; KServe's modelcar: a sidecar shares"
            + " /models through the process namespace) or imageVolume (a Kubernetes image volume, 1.31+).")
    public ModelcarMode modelcar;

    @JsonPropertyDescription("Total size of the weights, when the variant is not in the operator's catalog (e.g. 18Gi).")
    public Quantity weightsSize;

    @JsonPropertyDescription("Shape of the model for KV-cache sizing, when the variant is not in the operator's catalog.")
    public Architecture architecture;

    public enum ModelcarMode { sidecar, imageVolume }
}
