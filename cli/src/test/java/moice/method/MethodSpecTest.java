package moice.method;

import moice.MoiceException;
import moice.attention.Routers;
import moice.load.LoadedModel;
import moice.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The one method spec syntax: parsing, lists, errors, and resolving against a model. */
class MethodSpecTest {
    static final Path MODEL = Path.of("src/test/resources/models/llama-gqa");
    static final Path ROUTERS = Path.of("src/test/resources/moice/llama-gqa/routers.safetensors");

    @Test
    void everySyntax() {
        try (LoadedModel m = LoadedModel.open(MODEL)) {
            ModelConfig c = m.config();
            double theta = c.ropeTheta();
            assertEquals(new Method.Vanilla(), resolve("vanilla", c));
            assertEquals(new Method.Vanilla(), resolve(" Vanilla ", c));
            assertEquals(new Method.EqualWeights(Method.officialBases(theta)), resolve("equal", c));
            assertEquals(new Method.EqualWeights(new double[]{theta, 2 * theta}), resolve("equal:1,2", c));
            assertEquals(new Method.RandomRouting(Method.officialBases(theta), 7, 1), resolve("random", c));
            assertEquals(new Method.RandomRouting(Method.officialBases(theta), 7, 42), resolve("random:42", c));
            assertEquals(new Method.AttentionBuckets(null), resolve("ab", c));
            assertEquals(new Method.AttentionBuckets(new double[]{10000, 20000}), resolve("AB:10000,20000", c));
            assertEquals(Method.MsPoe.DEFAULT, resolve("mspoe", c));
            assertEquals(new Method.MsPoe(1.1, 1.5, false), resolve("mspoe:1.1,1.5", c));
            assertEquals(new Method.MsPoe(1.1, 1.5, true), resolve("MsPoE:1.1,1.5,group", c));
            Method.Moice fromFile = (Method.Moice) resolve("moice:" + ROUTERS, c);
            assertEquals("moice:" + ROUTERS, fromFile.label());
            assertEquals(7, fromFile.routers().numExperts());
            Routers builtIn = fromFile.routers();
            Method.Moice own = (Method.Moice) MethodSpec.parse("moice", "--method").resolve(c, Optional.of(builtIn), "--method");
            assertSame(builtIn, own.routers());
            assertEquals("moice", own.label());
            MoiceException e = assertThrows(MoiceException.class,
                    () -> MethodSpec.parse("moice", "--methods").resolve(c, Optional.empty(), "--methods"));
            assertTrue(e.getMessage().contains("moice:ROUTERS.safetensors"), e.getMessage());
        }
    }

    @Test
    void listsJoinArgumentsToTheirMethod() {
        List<MethodSpec> specs = MethodSpec.parseList("vanilla,equal:1,1.75,ab:10000,20000,mspoe:1.2,1.8,group,random:3,"
                + "moice:r.safetensors,moice", "--methods");
        assertEquals(List.of("vanilla", "equal:1,1.75", "ab:10000,20000", "mspoe:1.2,1.8,group", "random:3",
                "moice:r.safetensors", "moice"), specs.stream().map(MethodSpec::label).toList());
        assertArrayEquals(new double[]{1, 1.75}, specs.get(1).values());
        assertArrayEquals(new double[]{10000, 20000}, specs.get(2).values());
        assertTrue(specs.get(3).groupRatios());
        assertEquals(3, specs.get(4).seed());
        assertEquals(Path.of("r.safetensors"), specs.get(5).routers());
        assertNull(specs.get(6).routers());
    }

    @Test
    void badSpecsSayWhatIsWrong() {
        assertError("--method: unknown attention method 'buckets'", "buckets", "--method");
        assertError("--methods: unknown method 'bogus'", "vanilla,bogus", "--methods");
        assertError("'vanilla' is listed twice", "vanilla,mspoe,vanilla", "--methods");
        assertError("vanilla takes no arguments", "vanilla:1", "--method");
        assertError("has nothing after the colon", "moice:", "--method");
        assertError("the seed must be an integer", "random:x", "--method");
        assertError("every value must be a positive number, got -5.0", "ab:10000,-5", "--method");
        assertError("'x' is not a number", "equal:1,x", "--method");
        assertError("expected 0 < min <= max", "mspoe:2,1", "--method");
        assertError("expected mspoe:MIN,MAX or mspoe:MIN,MAX,group", "mspoe:1.2", "--method");
        assertError("unknown attention method ''", "vanilla,", "--method");
    }

    private static void assertError(String fragment, String list, String flag) {
        MoiceException e = assertThrows(MoiceException.class, () -> MethodSpec.parseList(list, flag));
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }

    private static Method resolve(String spec, ModelConfig c) {
        return MethodSpec.parse(spec, "--method").resolve(c, Optional.empty(), "--method");
    }
}
