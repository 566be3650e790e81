package moice.api;

import moice.attention.Routers;
import moice.cli.TinyChatModel;
import moice.io.RouterFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Session#routing()}: recorded only when asked and for MoICE-family methods; counts add up. */
class SessionRoutingTest {
    @TempDir
    Path tmp;

    @Test
    void routingIsRecordedOnlyWhenAskedAndAddsUp() throws IOException {
        try (Engine engine = Moice.load(TinyChatModel.write(tmp.resolve("tiny")))) {
            var c = engine.config();
            double[] bases = {c.ropeTheta(), 2 * c.ropeTheta(), 3 * c.ropeTheta()};
            Path r = tmp.resolve("r.safetensors");
            RouterFile.write(Routers.random(bases, 2, c.headDim(), c.numLayers(), 0.5, 1), r);
            var moice = engine.method("moice:" + r);
            int[] ids = engine.tokenize("Hello there, general Kenobi");

            Session plain = engine.session(moice);
            plain.forward(ids);
            assertTrue(plain.routing().isEmpty(), "not recorded without SessionOptions.recordingRouting()");
            Session vanilla = engine.session(engine.method("vanilla"), SessionOptions.recordingRouting());
            vanilla.forward(ids);
            assertTrue(vanilla.routing().isEmpty(), "vanilla has no routers");

            Session s = engine.session(moice, SessionOptions.recordingRouting());
            assertTrue(s.routing().isEmpty(), "nothing ran yet");
            s.forward(ids);
            RoutingCounts counts = s.routing().orElseThrow();
            assertArrayEquals(bases, counts.bases());
            assertEquals(2, counts.topK());
            assertEquals(c.numLayers(), counts.numLayers());
            for (int l = 0; l < counts.numLayers(); l++) {
                assertEquals(ids.length, counts.positions()[l]);
                assertEquals(c.numHeads(), counts.selected()[l].length);
                for (int h = 0; h < c.numHeads(); h++) {
                    assertEquals(2L * ids.length, java.util.Arrays.stream(counts.selected()[l][h]).sum());
                    // a position's K kept float weights are renormalised to 1 (within K ulps of 1f: one rounding in the
                    // sum, one per division), so a head's weights sum to its positions
                    double weights = 0, means = 0;
                    for (int e = 0; e < bases.length; e++) {
                        weights += counts.weightSums()[l][h][e];
                        means += counts.meanWeight(l, h, e);
                        if (counts.selected()[l][h][e] == 0) assertEquals(0, counts.meanWeightWhenSelected(l, h, e));
                    }
                    double perPosition = 2 * Math.ulp(1f); // K = 2
                    assertEquals(ids.length, weights, perPosition * ids.length);
                    assertEquals(1, means, perPosition);
                }
            }
            String[] csv = counts.toCsv().split("\n");
            assertEquals(1 + c.numLayers() * c.numHeads() * bases.length, csv.length);
            Completion done = s.generate("Hi", GenerateOptions.greedy(4), null);
            RoutingCounts after = s.routing().orElseThrow();
            int fed = done.promptTokens() + done.generatedTokens() - (done.stopReason().equals("eos") ? 0 : 1);
            assertEquals(fed, after.positions()[0], "the generation's own sequence: " + done.stopReason());
        }
    }
}
