package io.gemmaserving.operator.api;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * What to serve and how big: the operator turns it into a Deployment, a Service and optional autoscaling, all named
 * after the model. A name that would not fit them (over 63 characters, or not a DNS-1035 label) is refused at
 * admission: child names are never truncated or hashed, so {@code kubectl get deploy <model>} always finds them.
 */
@Group(GemmaModel.GROUP)
@Version(GemmaModel.VERSION)
@ShortNames("gm")
@ValidationRule(value = "self.metadata.name.size() <= " + Grammar.MAX_MODEL_NAME
        + " && self.metadata.name.matches('" + Grammar.DNS1035_LABEL + "')",
        message = "metadata.name: a GemmaModel's name is at most 63 characters, lower-case letters, digits and '-',"
                + " starting with a letter (its Service, Deployment and pod labels take the name)")
@AdditionalPrinterColumn(name = "READY", type = AdditionalPrinterColumn.Type.STRING,
        jsonPath = ".status.conditions[?(@.type==\"Ready\")].status")
@AdditionalPrinterColumn(name = "REPLICAS", type = AdditionalPrinterColumn.Type.INTEGER, jsonPath = ".status.replicas")
@AdditionalPrinterColumn(name = "TP", type = AdditionalPrinterColumn.Type.INTEGER, jsonPath = ".status.tensorParallelSize")
@AdditionalPrinterColumn(name = "ENDPOINT", type = AdditionalPrinterColumn.Type.STRING, jsonPath = ".status.endpoint")
@AdditionalPrinterColumn(name = "AGE", type = AdditionalPrinterColumn.Type.DATE, jsonPath = ".metadata.creationTimestamp")
public class GemmaModel extends CustomResource<GemmaModelSpec, GemmaModelStatus> implements Namespaced {
    public static final String GROUP = "serving.gemma.io";
    public static final String VERSION = "v1alpha1";
}
