package moice.eval;

import moice.io.AtomicFile;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * PNG charts drawn with java.awt (headless): accuracy (or log-likelihood) by depth, one line per method with 95 %
 * bootstrap error bars, and a length × depth heat map for one method. Files are written atomically.
 */
public final class Plots {
    /** Size of the line chart. */
    public static final int LINE_WIDTH = 800, LINE_HEIGHT = 500;
    /** Size of a heat map. */
    public static final int HEAT_WIDTH = 720, HEAT_HEIGHT = 480;
    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
            new Color(0xff7f0e), new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f)};

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Plots() {}

    /**
     * Accuracy (0–100 %) against depth, one line per method of {@code summary}, with the 95 % bootstrap interval of
     * every point as an error bar (methods side by side, a few pixels apart, so that bars do not hide each other).
     */
    public static BufferedImage accuracyByDepth(Summary summary, String title) {
        return byDepth(summary, Summary.Measure.ACCURACY, title, "accuracy (%), 95 % CI");
    }

    /** The same for the mean log-likelihood of the gold answer (nats), on an axis fitted to the intervals. */
    public static BufferedImage loglikByDepth(Summary summary, String title) {
        return byDepth(summary, Summary.Measure.LOGLIK, title, "log-likelihood of the answer (nats), 95 % CI");
    }

    private static BufferedImage byDepth(Summary summary, Summary.Measure measure, String title, String yTitle) {
        List<String> methods = summary.methods();
        List<Map<Double, Stats.Interval>> series = methods.stream().map(m -> summary.intervalByDepth(m, measure)).toList();
        return lines(title, "depth of the answer (0 = start, 1 = end)", 1, yTitle, methods, series, measure.scale,
                measure == Summary.Measure.ACCURACY);
    }

    /**
     * One line per series (x in [0, {@code xMax}]) with the 95 % interval of every point as an error bar; the y axis
     * is 0–100 when {@code percent}, else fitted to the intervals. Values are multiplied by {@code scale}.
     */
    public static BufferedImage lines(String title, String xLabel, double xMax, String yTitle, List<String> names,
                                      List<Map<Double, Stats.Interval>> series, double scale, boolean percent) {
        List<String> methods = names;
        double lo, hi, step;
        if (percent) {
            lo = 0;
            hi = 100;
            step = 20;
        } else {
            lo = Double.POSITIVE_INFINITY;
            hi = Double.NEGATIVE_INFINITY;
            for (Map<Double, Stats.Interval> m : series)
                for (Stats.Interval ci : m.values()) {
                    lo = Math.min(lo, scale * ci.lower());
                    hi = Math.max(hi, scale * ci.upper());
                }
            if (!(lo <= hi)) {
                lo = -1;
                hi = 0;
            }
            if (hi - lo < 1e-9) {
                lo -= 0.5;
                hi += 0.5;
            }
            step = niceStep((hi - lo) / 5);
            lo = Math.floor(lo / step) * step;
            hi = Math.ceil(hi / step) * step;
        }
        BufferedImage img = canvas(LINE_WIDTH, LINE_HEIGHT);
        Graphics2D g = graphics(img);
        int left = 80, right = 190, top = 50, bottom = 70;
        int w = LINE_WIDTH - left - right, h = LINE_HEIGHT - top - bottom;
        final double yLo = lo, ySpan = hi - lo;
        java.util.function.DoubleToIntFunction yOf = v -> top + h - (int) Math.round((v - yLo) / ySpan * h);
        drawTitle(g, title, LINE_WIDTH - right + left);
        int ticks = (int) Math.round((hi - lo) / step);
        g.setColor(new Color(0xdddddd));
        for (int t = 0; t <= ticks; t++) {
            int y = yOf.applyAsInt(lo + t * step);
            g.drawLine(left, y, left + w, y);
        }
        g.setColor(Color.BLACK);
        g.drawRect(left, top, w, h);
        FontMetrics fm = g.getFontMetrics();
        for (int t = 0; t <= ticks; t++) {
            double v = lo + t * step;
            int y = yOf.applyAsInt(v);
            String s = step >= 1 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.2f", v);
            g.drawString(s, left - 8 - fm.stringWidth(s), y + fm.getAscent() / 2 - 1);
        }
        for (int t = 0; t <= 4; t++) {
            double d = t / 4.0;
            int x = left + (int) Math.round(d * w);
            g.drawLine(x, top + h, x, top + h + 5);
            String s = xMax == 1 ? String.format(Locale.ROOT, "%.2f", d) : String.format(Locale.ROOT, "%.0f", d * xMax);
            g.drawString(s, x - fm.stringWidth(s) / 2, top + h + 20);
        }
        g.drawString(xLabel, left + (w - fm.stringWidth(xLabel)) / 2, LINE_HEIGHT - 20);
        drawVertical(g, yTitle, 25, top + h / 2);
        for (int i = 0; i < methods.size(); i++) {
            Color c = PALETTE[i % PALETTE.length];
            int offset = (int) Math.round((i - (methods.size() - 1) / 2.0) * 5);
            int px = -1, py = -1;
            for (Map.Entry<Double, Stats.Interval> e : series.get(i).entrySet()) {
                Stats.Interval ci = e.getValue();
                int x = left + (int) Math.round(e.getKey() / xMax * w) + offset;
                int y = yOf.applyAsInt(scale * ci.mean());
                int y0 = yOf.applyAsInt(scale * ci.lower()), y1 = yOf.applyAsInt(scale * ci.upper());
                g.setColor(new Color(c.getRed(), c.getGreen(), c.getBlue(), 160));
                g.setStroke(new BasicStroke(1.5f));
                g.drawLine(x, y0, x, y1);
                g.drawLine(x - 4, y0, x + 4, y0);
                g.drawLine(x - 4, y1, x + 4, y1);
                g.setColor(c);
                g.setStroke(new BasicStroke(2.5f));
                if (px >= 0) g.drawLine(px, py, x, y);
                g.fillOval(x - 4, y - 4, 8, 8);
                px = x;
                py = y;
            }
            g.setColor(c);
            g.setStroke(new BasicStroke(2.5f));
            int ly = top + 10 + i * 22;
            g.drawLine(left + w + 15, ly, left + w + 40, ly);
            g.fillOval(left + w + 24, ly - 4, 8, 8);
            g.setColor(Color.BLACK);
            g.drawString(shorten(methods.get(i), fm, right - 55), left + w + 47, ly + fm.getAscent() / 2 - 1);
        }
        g.dispose();
        return img;
    }

    /** 1, 2 or 5 times a power of ten, at least {@code raw}. */
    static double niceStep(double raw) {
        double p = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double m : new double[]{1, 2, 5, 10}) if (m * p >= raw) return m * p;
        return 10 * p;
    }

    /** Accuracy of {@code method} over lengths (rows) × depths (columns), red (0 %) to green (100 %). */
    public static BufferedImage heatMap(Summary summary, String method, String title) {
        BufferedImage img = canvas(HEAT_WIDTH, HEAT_HEIGHT);
        Graphics2D g = graphics(img);
        List<Integer> lengths = summary.lengths();
        List<Double> depths = summary.depths();
        int left = 110, right = 30, top = 50, bottom = 70;
        int w = HEAT_WIDTH - left - right, h = HEAT_HEIGHT - top - bottom;
        drawTitle(g, title, HEAT_WIDTH);
        FontMetrics fm = g.getFontMetrics();
        int cols = Math.max(1, depths.size()), rows = Math.max(1, lengths.size());
        for (int r = 0; r < lengths.size(); r++)
            for (int c = 0; c < depths.size(); c++) {
                int x0 = left + c * w / cols, x1 = left + (c + 1) * w / cols;
                int y0 = top + r * h / rows, y1 = top + (r + 1) * h / rows;
                double acc = summary.accuracy(method, lengths.get(r), depths.get(c));
                g.setColor(Double.isNaN(acc) ? Color.LIGHT_GRAY : shade(acc));
                g.fillRect(x0, y0, x1 - x0, y1 - y0);
                g.setColor(Color.BLACK);
                String s = Summary.percent(acc);
                g.drawString(s, (x0 + x1 - fm.stringWidth(s)) / 2, (y0 + y1 + fm.getAscent()) / 2 - 2);
            }
        g.setColor(Color.BLACK);
        g.drawRect(left, top, w, h);
        for (int c = 0; c < depths.size(); c++) {
            String s = String.format(Locale.ROOT, "%.2f", depths.get(c));
            g.drawString(s, left + (2 * c + 1) * w / (2 * cols) - fm.stringWidth(s) / 2, top + h + 20);
        }
        for (int r = 0; r < lengths.size(); r++) {
            String s = String.valueOf(lengths.get(r));
            g.drawString(s, left - 8 - fm.stringWidth(s), top + (2 * r + 1) * h / (2 * rows) + fm.getAscent() / 2 - 1);
        }
        String xLabel = "depth of the answer (0 = start, 1 = end)";
        g.drawString(xLabel, left + (w - fm.stringWidth(xLabel)) / 2, HEAT_HEIGHT - 20);
        drawVertical(g, "context length (tokens)", 25, top + h / 2);
        g.dispose();
        return img;
    }

    /** Writes {@code image} as a PNG, atomically. */
    public static void write(BufferedImage image, Path file) {
        AtomicFile.write(file, ch -> {
            OutputStream out = Channels.newOutputStream(ch);
            if (!ImageIO.write(image, "png", out)) throw new IOException("no PNG writer available");
            out.flush();
        });
    }

    /** Red → yellow → green for 0 → 1. */
    static Color shade(double v) {
        double t = Math.max(0, Math.min(1, v));
        int r = (int) Math.round(t < 0.5 ? 230 : 230 - (t - 0.5) * 2 * 130);
        int gr = (int) Math.round(t < 0.5 ? 90 + t * 2 * 130 : 220);
        return new Color(r, gr, 90);
    }

    private static BufferedImage canvas(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.dispose();
        return img;
    }

    private static Graphics2D graphics(BufferedImage img) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        g.setColor(Color.BLACK);
        return g;
    }

    private static void drawTitle(Graphics2D g, String title, int width) {
        Font old = g.getFont();
        g.setFont(old.deriveFont(Font.BOLD, 15f));
        FontMetrics fm = g.getFontMetrics();
        String t = shorten(title, fm, width - 20);
        g.drawString(t, (width - fm.stringWidth(t)) / 2, 30);
        g.setFont(old);
    }

    private static void drawVertical(Graphics2D g, String text, int x, int yCenter) {
        AffineTransform old = g.getTransform();
        g.rotate(-Math.PI / 2, x, yCenter);
        g.drawString(text, x - g.getFontMetrics().stringWidth(text) / 2, yCenter);
        g.setTransform(old);
    }

    private static String shorten(String s, FontMetrics fm, int width) {
        if (fm.stringWidth(s) <= width) return s;
        while (s.length() > 1 && fm.stringWidth(s + "…") > width) s = s.substring(0, s.length() - 1);
        return s + "…";
    }
}
