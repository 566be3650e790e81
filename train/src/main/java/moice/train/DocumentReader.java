package moice.train;

import moice.MoiceException;
import moice.io.Json;
import moice.tokenizer.ChatTemplate;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Reads the documents of a training file. Two layouts, told apart by the first non-blank character:
 * <ul>
 *   <li>JSON Lines ({@code {...}} per line): each line one record;</li>
 *   <li>one JSON array over the whole file ({@code [...]}), as the official OpenHermes release ships.</li>
 * </ul>
 * A record is one of {@code {"text": STRING}}, {@code {"messages": [{"role": R, "content": C}, ...]}} or
 * {@code {"conversations": [{"from": "system"|"human"|"gpt", "value": V}, ...]}} (OpenHermes; mapped to the roles
 * system, user, assistant). Other keys are ignored. A record that is blank, not JSON, of no known shape, or empty (no
 * text, no turns) is bad: an error naming the file and line (or array element), or, when skipping, counted.
 */
public final class DocumentReader {

    /** Counts of one read. */
    public record Counts(int documents, int skipped) {}

    private DocumentReader() {}

    /** Reads every document of {@code file}; see {@link #read(Path, boolean, long, Consumer)}. */
    public static Counts read(Path file, boolean skipBad, Consumer<TrainingDocument> sink) {
        return read(file, skipBad, Long.MAX_VALUE, sink);
    }

    /**
     * Reads the documents of {@code file} in order, handing each to {@code sink}, and stops after
     * {@code maxDocuments} good ones (the rest of the file is not read).
     *
     * @param skipBad count bad records instead of failing
     */
    public static Counts read(Path file, boolean skipBad, long maxDocuments, Consumer<TrainingDocument> sink) {
        if (maxDocuments < 1) throw new IllegalArgumentException("maxDocuments " + maxDocuments);
        if (!Files.isRegularFile(file)) throw new MoiceException(file + ": no such data file");
        try (BufferedReader in = new BufferedReader(new java.io.InputStreamReader(Files.newInputStream(file),
                StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)), 1 << 16)) {
            // look ahead for the layout, then start over so that line numbers count every line
            in.mark(1 << 20);
            int first, scanned = 0;
            do first = in.read(); while (++scanned < 1 << 20 && (first == ' ' || first == '\t' || first == '\r' || first == '\n' || first == '\uFEFF'));
            if (first < 0) throw new MoiceException(file + ": the data file is empty");
            in.reset();
            return first == '[' ? readArray(file, in, skipBad, maxDocuments, sink)
                    : readLines(file, in, skipBad, maxDocuments, sink);
        } catch (CharacterCodingException e) {
            throw new MoiceException(file + ": not valid UTF-8", e);
        } catch (IOException e) {
            throw new MoiceException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static Counts readLines(Path file, BufferedReader reader, boolean skipBad, long maxDocuments,
                                    Consumer<TrainingDocument> sink) throws IOException {
        int documents = 0, skipped = 0, lineNumber = 0;
        String line;
        while (documents < maxDocuments && (line = reader.readLine()) != null) {
            lineNumber++;
            String where = file + ":" + lineNumber;
            if (lineNumber == 1 && line.startsWith("\uFEFF")) line = line.substring(1);
            TrainingDocument doc;
            try {
                if (line.isBlank()) throw new MoiceException(where + ": empty line; expected one JSON record per line");
                doc = record(Json.parse(line, where), where);
            } catch (MoiceException e) {
                if (!skipBad) throw badLine(e, where);
                skipped++;
                continue;
            }
            documents++;
            sink.accept(doc);
        }
        return new Counts(documents, skipped);
    }

    /** Json's own messages start with the source; a message that does not gets the location put in front. */
    private static MoiceException badLine(MoiceException e, String where) {
        String msg = e.getMessage();
        return msg.startsWith(where) ? e : new MoiceException(where + ": " + msg, e);
    }

    /**
     * Reads the array one element at a time (the official OpenHermes file is about 2 GB): a scanner that tracks
     * strings and nesting finds where each top-level element ends, and only that element is parsed.
     */
    private static Counts readArray(Path file, BufferedReader reader, boolean skipBad, long maxDocuments,
                                    Consumer<TrainingDocument> sink) throws IOException {
        int c = skipWhitespace(reader);
        if (c != '[') throw new MoiceException(file + ": expected a JSON array");
        c = skipWhitespace(reader);
        boolean more = c != ']';
        int documents = 0, skipped = 0;
        StringBuilder element = new StringBuilder();
        if (more) element.append((char) c);
        for (int index = 0; more; index++) {
            more = scanElement(file, reader, element, c);
            String where = file + ": element " + index;
            TrainingDocument doc;
            try {
                doc = record(Json.parse(element.toString().strip(), where), where);
            } catch (MoiceException e) {
                if (!skipBad) throw badLine(e, where);
                skipped++;
                continue;
            } finally {
                element.setLength(0);
                c = -1;
            }
            documents++;
            sink.accept(doc);
            if (documents == maxDocuments) return new Counts(documents, skipped);
        }
        if (skipWhitespace(reader) != -1) throw new MoiceException(file + ": unexpected characters after the JSON array");
        return new Counts(documents, skipped);
    }

    /**
     * Appends the rest of one top-level array element to {@code element} ({@code first}, already appended, is its
     * first character, or -1 when it has not been read yet).
     *
     * @return true when a comma ended the element, false when the array's closing bracket did
     */
    private static boolean scanElement(Path file, BufferedReader reader, StringBuilder element, int first)
            throws IOException {
        int depth = 0;
        boolean inString = false, escaped = false;
        int c = first;
        if (c >= 0) {
            // the first character was consumed by the caller; account for it
            if (c == '"') inString = true;
            else if (c == '{' || c == '[') depth++;
            else if (c == ',') return true;
        }
        while ((c = reader.read()) >= 0) {
            if (inString) {
                if (escaped) escaped = false;
                else if (c == '\\') escaped = true;
                else if (c == '"') inString = false;
            } else if (c == '"') {
                inString = true;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (depth == 0) {
                    if (c == ']') return false;
                    throw new MoiceException(file + ": unbalanced '}' in the JSON array");
                }
                depth--;
            } else if (c == ',' && depth == 0) {
                return true;
            }
            element.append((char) c);
        }
        throw new MoiceException(file + ": the JSON array is not closed (file truncated?)");
    }

    private static int skipWhitespace(BufferedReader reader) throws IOException {
        int c;
        do c = reader.read(); while (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\uFEFF');
        return c;
    }

    /** One record in any of the three shapes. */
    static TrainingDocument record(Object json, String where) {
        Map<String, Object> obj = Json.object(json, where);
        int shapes = (obj.containsKey("text") ? 1 : 0) + (obj.containsKey("messages") ? 1 : 0)
                + (obj.containsKey("conversations") ? 1 : 0);
        if (shapes != 1)
            throw new MoiceException(where + ": expected exactly one of \"text\", \"messages\" or \"conversations\"; found "
                    + (shapes == 0 ? "none (keys " + obj.keySet() + ")" : "several"));
        if (obj.containsKey("text")) {
            String text = Json.string(obj.get("text"), where + ": \"text\"");
            if (text.isEmpty()) throw new MoiceException(where + ": \"text\" is empty");
            return new TrainingDocument.Text(text, where);
        }
        boolean hermes = obj.containsKey("conversations");
        String key = hermes ? "conversations" : "messages";
        List<Object> turns = Json.array(obj.get(key), where + ": \"" + key + "\"");
        if (turns.isEmpty()) throw new MoiceException(where + ": \"" + key + "\" is empty");
        List<ChatTemplate.Message> messages = new ArrayList<>(turns.size());
        for (int t = 0; t < turns.size(); t++) {
            String turnWhere = where + ": \"" + key + "\"[" + t + "]";
            Map<String, Object> turn = Json.object(turns.get(t), turnWhere);
            String role = hermes ? hermesRole(turn.get("from"), turnWhere) : nonEmpty(turn.get("role"), turnWhere + ".role");
            String content = Json.string(turn.get(hermes ? "value" : "content"),
                    turnWhere + (hermes ? ".value" : ".content"));
            messages.add(new ChatTemplate.Message(role, content));
        }
        return new TrainingDocument.Chat(List.copyOf(messages), where);
    }

    private static String hermesRole(Object from, String where) {
        String s = Json.string(from, where + ".from");
        return switch (s) {
            case "system" -> "system";
            case "human", "user" -> "user";
            case "gpt", "assistant" -> "assistant";
            default -> throw new MoiceException(where + ".from is \"" + s + "\"; expected \"system\", \"human\" or \"gpt\"");
        };
    }

    private static String nonEmpty(Object v, String what) {
        String s = Json.string(v, what);
        if (s.isEmpty()) throw new MoiceException(what + " is empty");
        return s;
    }
}
