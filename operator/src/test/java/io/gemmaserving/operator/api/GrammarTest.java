package io.gemmaserving.operator.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.gemmaserving.operator.sizing.Sizing;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The admission grammars, read by java.util.regex as the API server reads them (RE2); the TP limit in one place. */
@Tag("unit")
class GrammarTest {

    static boolean reference(String s) {
        return Pattern.matches(Grammar.IMAGE_REFERENCE, s);
    }

    @Test
    void imageReferencesFollowTheDistributionGrammar() {
        for (String ok : List.of("gemma", "library/gemma:1", "quay.io/gemma-serving/modelcar-gemma-3-270m-it:q4_k_m",
                "localhost:5000/a/b__c.d-e:v1.0", "example.com/x@sha256:" + "0".repeat(64),
                "example.com/x:tag@sha256:" + "a".repeat(64))) {
            assertThat(reference(ok)).as(ok).isTrue();
        }
        for (String bad : List.of("example.com/a b:1", "example.com/Gemma:1", "example.com/gemma:-x", "example.com/gemma:",
                "example.com/gemma@sha256:abc", "-gemma", "gemma/", "example.com//gemma", "a:" + "t".repeat(129))) {
            assertThat(reference(bad)).as(bad).isFalse();
        }
    }

    @Test
    void quantitiesEnvNamesAndDnsNames() {
        for (String ok : List.of("1", "1.5", "512Mi", "2Gi", "100m", "1e9", "+1k", ".5")) {
            assertThat(Pattern.matches(Grammar.QUANTITY, ok)).as(ok).isTrue();
        }
        for (String bad : List.of("lots", "1.5 GB", "2 cores", "Gi", "1GiB", "")) {
            assertThat(Pattern.matches(Grammar.QUANTITY, bad)).as(bad).isFalse();
        }
        assertThat(Pattern.matches(Grammar.ENV_NAME, "JAVA_OPTS")).isTrue();
        assertThat(Pattern.matches(Grammar.ENV_NAME, "1ABC")).isFalse();
        assertThat(Pattern.matches(Grammar.DNS1123_SUBDOMAIN, "java-cpu.v2")).isTrue();
        assertThat(Pattern.matches(Grammar.DNS1123_SUBDOMAIN, "My_Runtime")).isFalse();
        assertThat(Pattern.matches(Grammar.DNS1035_LABEL, "9b")).isFalse();
    }

    /** The CRD's CEL list of tensor-parallel sizes is exactly the powers of two sizing tries. */
    @Test
    void theTensorParallelRuleAndSizingAgree() {
        List<Integer> powers = new ArrayList<>();
        for (int tp = 1; tp <= Sizing.MAX_TENSOR_PARALLEL; tp *= 2) {
            powers.add(tp);
        }
        assertThat(Sizing.TENSOR_PARALLEL_SIZES).isEqualTo(powers.toString());
    }
}
