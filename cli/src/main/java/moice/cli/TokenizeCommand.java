package moice.cli;

import moice.MoiceException;
import moice.api.Moice;
import moice.api.Tokenizer;
import moice.io.Json;
import moice.io.download.ModelCache;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code moice tokenize}: prints the ids HF {@code tokenizer.encode(text)} gives, as a compact JSON array on stdout.
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Print the token ids of a text (as HF tokenizer.encode, special tokens added) as a JSON array.")
public final class TokenizeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Model directory containing tokenizer.json, the tokenizer.json file itself, a .gguf file, or a pulled model's name.")
    String model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--text-file", paramLabel = "F", description = "UTF-8 file with the text (read verbatim).")
        Path textFile;

        @Option(names = "--text", paramLabel = "TEXT", description = "The text itself.")
        String text;
    }

    @Option(names = "--no-special", description = "Do not add the post-processor's special tokens (BOS/EOS).")
    boolean noSpecial;

    @Override
    public Integer call() {
        Tokenizer tokenizer = Moice.tokenizer(ModelCache.resolve(model)); // no weights are read
        String text = input.text != null ? input.text : readText(input.textFile);
        System.out.println(Json.write(tokenizer.encode(text, !noSpecial)));
        System.out.flush();
        return 0;
    }

    private static String readText(Path file) {
        try {
            byte[] bytes = Files.readAllBytes(file);
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new MoiceException(file + ": not valid UTF-8");
        } catch (IOException e) {
            throw new MoiceException(file + ": cannot read: " + e.getMessage());
        }
    }
}
