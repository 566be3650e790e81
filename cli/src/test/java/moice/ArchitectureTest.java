package moice;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.Architectures;
import org.junit.jupiter.api.Test;

import java.util.List;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * The direction of the architecture (docs/architecture.md), checked on the compiled classes: each layer may use
 * only the layers below it, and there are no cycles between packages. A lower layer importing a higher one fails the
 * build. Bottom to top: kernels, attention, the forward pass, model file formats, text (tokenizers, chat templates),
 * assembly of a runnable model, fetching, attention methods, training, evaluation, the public API, the Spark
 * runner (moice-spark: the CLI finds it at run time, never by import), the HTTP server, the CLI.
 */
class ArchitectureTest {
    /** Layer name, then its packages; bottom first. */
    static final List<String[]> LAYERS = List.of(
            new String[]{"tensor", "moice.tensor.."},
            new String[]{"attention", "moice.attention.."},
            new String[]{"model", "moice.model.."},
            new String[]{"formats", "moice.io", "moice.io.gguf.."},
            new String[]{"text", "moice.tokenizer.."},
            new String[]{"load", "moice.load.."},
            new String[]{"fetch", "moice.io.download.."},
            new String[]{"method", "moice.method.."},
            new String[]{"train", "moice.train.."},
            new String[]{"eval", "moice.eval.."},
            new String[]{"api", "moice.api.."},
            new String[]{"spark", "moice.spark.."},
            new String[]{"server", "moice.server.."},
            new String[]{"cli", "moice.cli.."});

    static final JavaClasses CLASSES = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages("moice");

    @Test
    void everyLayerUsesOnlyTheLayersBelowIt() {
        Architectures.LayeredArchitecture rule = Architectures.layeredArchitecture().consideringOnlyDependenciesInLayers();
        for (String[] layer : LAYERS)
            rule = rule.layer(layer[0]).definedBy(java.util.Arrays.copyOfRange(layer, 1, layer.length));
        for (int i = 0; i < LAYERS.size() - 1; i++) {
            String[] above = LAYERS.subList(i + 1, LAYERS.size()).stream().map(l -> l[0]).toArray(String[]::new);
            rule = rule.whereLayer(LAYERS.get(i)[0]).mayOnlyBeAccessedByLayers(above);
        }
        rule = rule.whereLayer("cli").mayNotBeAccessedByAnyLayer();
        rule.check(CLASSES);
    }

    @Test
    void packagesHaveNoCycles() {
        slices().matching("moice.(*)..").should().beFreeOfCycles().check(CLASSES);
    }
}
