package moice.eval;

import moice.MoiceException;
import moice.io.Json;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/** Reads JSON Lines files (optionally gzip-compressed, by the {@code .gz} suffix): one JSON object per line. */
public final class JsonLines {
    private JsonLines() {}

    /** One parsed line; {@code where} is "FILE:LINE", for error messages. */
    public record Line(Map<String, Object> object, String where) {
        /** The string field {@code key}, or an error naming the line and field. */
        public String string(String key) {
            return Json.string(require(key), where + ": field '" + key + "'");
        }

        /** The array field {@code key}. */
        public List<Object> array(String key) {
            return Json.array(require(key), where + ": field '" + key + "'");
        }

        /** The field {@code key}, or an error saying it is missing. */
        public Object require(String key) {
            Object v = object.get(key);
            if (v == null) throw new MoiceException(where + ": missing field '" + key + "'");
            return v;
        }

        /** The strings of array field {@code key}. */
        public List<String> strings(String key) {
            List<String> out = new ArrayList<>();
            List<Object> a = array(key);
            for (int i = 0; i < a.size(); i++)
                out.add(Json.string(a.get(i), where + ": field '" + key + "[" + i + "]'"));
            return out;
        }
    }

    /** Every non-blank line of {@code file}, parsed; blank lines are skipped. */
    public static List<Line> read(Path file) {
        List<Line> lines = new ArrayList<>();
        try (InputStream raw = Files.newInputStream(file);
             InputStream in = file.getFileName().toString().endsWith(".gz") ? new GZIPInputStream(raw) : raw;
             BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8.newDecoder()
                     .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)))) {
            String text;
            int number = 0;
            while ((text = reader.readLine()) != null) {
                number++;
                if (text.isBlank()) continue;
                String where = file + ":" + number;
                Object v = Json.parse(text, where);
                if (!(v instanceof Map<?, ?>))
                    throw new MoiceException(where + ": expected a JSON object, got " + Json.typeName(v));
                lines.add(new Line(Json.object(v, where), where));
            }
        } catch (NoSuchFileException e) {
            throw new MoiceException(file + ": no such data file");
        } catch (CharacterCodingException e) {
            throw new MoiceException(file + ": not valid UTF-8");
        } catch (IOException e) {
            throw new MoiceException(file + ": cannot read: " + e.getMessage());
        }
        if (lines.isEmpty()) throw new MoiceException(file + ": no JSON lines in the data file");
        return lines;
    }
}
