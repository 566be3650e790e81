package moice.eval;

import moice.MoiceException;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code results.csv}: RFC 4180 CSV (fields with commas, quotes or line breaks are quoted, quotes doubled), one row per
 * finished sample, appended and flushed as each sample finishes so that an interrupted run keeps its work.
 */
public final class ResultsCsv implements AutoCloseable {
    private final BufferedWriter out;

    private ResultsCsv(BufferedWriter out) {
        this.out = out;
    }

    /**
     * Opens {@code file} for appending, writing the header first when the file is new or empty. A last record cut off
     * by an interruption (no final line break) is removed first, so that new rows start on a line of their own. A file
     * written before log-likelihood scoring (the 13-column header) is first rewritten, atomically, with the current
     * header, its rows marked {@code generate} and their log-likelihood columns empty (nothing is lost).
     */
    public static ResultsCsv append(Path file) {
        try {
            if (Files.exists(file)) {
                String text = Files.readString(file, StandardCharsets.UTF_8);
                int complete = completeLength(text);
                if (complete < text.length())
                    try (var ch = java.nio.channels.FileChannel.open(file, StandardOpenOption.WRITE)) {
                        ch.truncate(text.substring(0, complete).getBytes(StandardCharsets.UTF_8).length);
                    }
                List<List<String>> records = parse(text.substring(0, complete));
                if (!records.isEmpty() && records.get(0).equals(ResultRow.COLUMNS_V1)) upgrade(file);
            }
            boolean fresh = !Files.exists(file) || Files.size(file) == 0;
            BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
            ResultsCsv csv = new ResultsCsv(w);
            if (fresh) csv.writeLine(ResultRow.COLUMNS);
            return csv;
        } catch (IOException e) {
            throw new MoiceException(file + ": cannot write: " + e.getMessage());
        }
    }

    /** Rewrites a 13-column file with the current header (atomically). */
    private static void upgrade(Path file) {
        rewrite(file, read(file));
    }

    /** Replaces {@code file} atomically with the header and {@code rows}, in that order. */
    public static void rewrite(Path file, List<ResultRow> rows) {
        StringBuilder sb = new StringBuilder();
        line(ResultRow.COLUMNS, sb);
        for (ResultRow r : rows) line(r.cells(), sb);
        byte[] bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
        moice.io.AtomicFile.write(file, ch -> {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) ch.write(b);
        });
    }

    /** Appends {@code row} and flushes it to the file. */
    public void write(ResultRow row) {
        writeLine(row.cells());
    }

    private static void line(List<String> cells, StringBuilder sb) {
        for (int i = 0; i < cells.size(); i++) {
            if (i > 0) sb.append(',');
            quote(cells.get(i), sb);
        }
        sb.append("\r\n");
    }

    private void writeLine(List<String> cells) {
        StringBuilder sb = new StringBuilder();
        line(cells, sb);
        try {
            out.write(sb.toString());
            out.flush();
        } catch (IOException e) {
            throw new MoiceException("results.csv: cannot write: " + e.getMessage());
        }
    }

    static void quote(String s, StringBuilder sb) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
            sb.append(s);
            return;
        }
        sb.append('"').append(s.replace("\"", "\"\"")).append('"');
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new MoiceException("results.csv: cannot close: " + e.getMessage());
        }
    }

    /**
     * The rows of {@code file} (empty when it does not exist). A last line cut off by an interruption (an unterminated
     * record) is dropped; any other malformed row is an error naming the file and row.
     */
    public static List<ResultRow> read(Path file) {
        if (!Files.exists(file)) return List.of();
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new MoiceException(file + ": cannot read: " + e.getMessage());
        }
        List<List<String>> records = parse(text);
        List<ResultRow> rows = new ArrayList<>();
        if (records.isEmpty()) return rows;
        List<String> header = records.get(0);
        if (!header.equals(ResultRow.COLUMNS) && !header.equals(ResultRow.COLUMNS_V1))
            throw new MoiceException(file + ": header is not " + String.join(",", ResultRow.COLUMNS)
                    + " (nor the older " + ResultRow.COLUMNS_V1.size() + "-column header without scoring and "
                    + "log-likelihood)");
        for (int i = 1; i < records.size(); i++) {
            List<String> r = records.get(i);
            if (r.size() != header.size())
                throw new MoiceException(file + ": row " + i + " has " + r.size() + " fields, expected "
                        + header.size());
            if (r.size() > 13 && !Scoring.NAMES.contains(r.get(13)))
                throw new MoiceException(file + ": row " + i + ": scoring '" + r.get(13) + "' is not one of "
                        + String.join(", ", Scoring.NAMES));
            try {
                rows.add(ResultRow.of(r));
            } catch (NumberFormatException e) {
                throw new MoiceException(file + ": row " + i + ": a number field is malformed (" + e.getMessage() + ")");
            }
        }
        return rows;
    }

    /** Length of the prefix of {@code text} that holds complete records (up to the last line break outside quotes). */
    static int completeLength(String text) {
        boolean quoted = false;
        int end = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"') quoted = !quoted; // a doubled quote toggles twice: no change
            else if (!quoted && c == '\n') end = i + 1;
        }
        return end;
    }

    /** Complete records of {@code text}; a final record without its line break is left out. */
    static List<List<String>> parse(String text) {
        List<List<String>> records = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < text.length() && text.charAt(i + 1) == '"') {
                        field.append('"');
                        i += 2;
                        continue;
                    }
                    quoted = false;
                } else field.append(c);
                i++;
                continue;
            }
            if (c == '"') quoted = true;
            else if (c == ',') {
                fields.add(field.toString());
                field.setLength(0);
            } else if (c == '\r' || c == '\n') {
                fields.add(field.toString());
                field.setLength(0);
                records.add(fields);
                fields = new ArrayList<>();
                if (c == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n') i++;
            } else field.append(c);
            i++;
        }
        return records;
    }
}
