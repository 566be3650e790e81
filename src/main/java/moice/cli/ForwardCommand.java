package moice.cli;

import moice.MoiceException;
import moice.io.Json;
import moice.io.LoadedModel;
import moice.io.SafeTensorsWriter;
import moice.model.KVCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code bin/moice forward}: logits of every position of a token sequence, as float32 safetensors. */
@Command(name = "forward", mixinStandardHelpOptions = true,
        description = {"Writes tensor 'logits' (float32 [T, vocab]) for the token ids in a JSON array, all positions.",
                "Example: bin/moice forward --model DIR --tokens ids.json --out logits.safetensors"})
public final class ForwardCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory or .gguf file.")
    Path model;

    @Option(names = "--tokens", required = true, description = "JSON array of token ids.")
    Path tokens;

    @Option(names = "--out", required = true, description = "Output .safetensors file (written atomically).")
    Path out;

    @Override
    public Integer call() {
        int[] ids = readTokens(tokens);
        try (LoadedModel m = LoadedModel.open(model)) {
            KVCache cache = m.model().newCache(Math.max(ids.length, 1));
            long t0 = System.nanoTime();
            float[] logits = m.model().forward(ids, cache, m.model().vanilla(), ids.length);
            System.err.printf("forward: %d tokens in %.2f s%n", ids.length, (System.nanoTime() - t0) / 1e9);
            new SafeTensorsWriter().addF32("logits", logits, ids.length, m.config().vocabSize()).write(out);
        }
        return 0;
    }

    /** Reads a JSON array of non-negative integers. */
    static int[] readTokens(Path file) {
        List<Object> list = Json.array(Json.parseFile(file), file.toString());
        if (list.isEmpty()) throw new MoiceException(file + ": the token array is empty");
        int[] ids = new int[list.size()];
        for (int i = 0; i < ids.length; i++) {
            long v = Json.integer(list.get(i), file + ": element " + i);
            if (v < 0 || v > Integer.MAX_VALUE) throw new MoiceException(file + ": element " + i + " (" + v + ") is not a token id");
            ids[i] = (int) v;
        }
        return ids;
    }
}
