using GruServing.Contract.Serving;
using System.Globalization;
using System.Text;
using GruOperator.Domain.Analysis;

namespace GruOperator.Providers.Prometheus;

/// <summary>A query template that cannot be rendered safely; the message names the placeholder and the fix.</summary>
internal sealed class PromQlTemplateException(string message) : Exception(message);

/// <summary>
/// Renders <c>{{namespace}} {{model}} {{track}} {{revision}}</c> (label values) and <c>{{window}}</c> (a range
/// duration) into PromQL. Label values must sit inside a "..." or '...' string and are escaped for that quote,
/// so a value such as <c>x"} or vector(1) #</c> stays one string literal: no PromQL injection through a
/// resource name. Placeholders outside quotes or inside `raw` strings (which have no escapes) are refused.
/// </summary>
internal static class PromQlTemplate
{
    /// <summary>The label-value placeholders, in the order the docs list them.</summary>
    public static readonly IReadOnlyList<string> LabelPlaceholders = ["namespace", "model", "track", "revision"];

    /// <summary>Renders <paramref name="template"/> for one track; <paramref name="window"/> fills <c>{{window}}</c>.</summary>
    public static string Render(string template, TrackSelector track, TimeSpan window)
    {
        var output = new StringBuilder(template.Length + 64);
        var quote = '\0'; // the quote character of the string literal we are in, or 0 outside strings
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c == '{' && i + 1 < template.Length && template[i + 1] == '{')
            {
                var close = template.IndexOf("}}", i + 2, StringComparison.Ordinal);
                if (close < 0)
                {
                    throw new PromQlTemplateException($"unclosed '{{{{' at position {i} in query template: {template}");
                }

                var name = template[(i + 2)..close].Trim();
                output.Append(Substitute(name, quote, track, window, template));
                i = close + 1;
                continue;
            }

            output.Append(c);
            if (quote == '\0')
            {
                if (c is '"' or '\'' or '`')
                {
                    quote = c;
                }
            }
            else if (c == '\\' && quote != '`' && i + 1 < template.Length)
            {
                output.Append(template[++i]); // an escaped character never ends the string
            }
            else if (c == quote)
            {
                quote = '\0';
            }
        }

        return output.ToString();
    }

    /// <summary>A Prometheus duration: whole seconds as "30s", anything finer in milliseconds.</summary>
    public static string Duration(TimeSpan span)
    {
        var ms = (long)Math.Round(span.TotalMilliseconds);
        return ms % 1000 == 0
            ? (ms / 1000).ToString(CultureInfo.InvariantCulture) + "s"
            : ms.ToString(CultureInfo.InvariantCulture) + "ms";
    }

    /// <summary>Escapes <paramref name="value"/> for a PromQL string literal delimited by <paramref name="quote"/>.</summary>
    public static string EscapeLabelValue(string value, char quote)
    {
        var escaped = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': escaped.Append(@"\\"); break;
                case '\n': escaped.Append(@"\n"); break;
                case '\r': escaped.Append(@"\r"); break;
                case '\t': escaped.Append(@"\t"); break;
                case var q when q == quote: escaped.Append('\\').Append(q); break;
                case var control when char.IsControl(control):
                    escaped.Append(@"\u").Append(((int)control).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default: escaped.Append(c); break;
            }
        }

        return escaped.ToString();
    }

    private static string Substitute(string name, char quote, TrackSelector track, TimeSpan window, string template)
    {
        if (name == "window")
        {
            if (quote != '\0')
            {
                throw new PromQlTemplateException($"{{{{window}}}} is a range duration and belongs outside quotes, as in rate(x[{{{{window}}}}]): {template}");
            }

            return Duration(window);
        }

        var value = name switch
        {
            "namespace" => track.Namespace,
            "model" => track.Model,
            "track" => track.TrackLabel,
            "revision" => track.Revision,
            _ => throw new PromQlTemplateException(
                $"unknown placeholder {{{{{name}}}}} in query template; use {string.Join(", ", LabelPlaceholders.Select(p => "{{" + p + "}}"))} or {{{{window}}}}: {template}"),
        };

        return quote switch
        {
            '"' or '\'' => EscapeLabelValue(value, quote),
            '`' => throw new PromQlTemplateException(
                $"{{{{{name}}}}} is inside a `raw` string, which cannot be escaped; write label=\"{{{{{name}}}}}\" instead: {template}"),
            _ => throw new PromQlTemplateException(
                $"{{{{{name}}}}} must be inside a quoted label value such as {name}=\"{{{{{name}}}}}\": {template}"),
        };
    }
}

/// <summary>Lets spec validation reject an unsafe or malformed custom query before any analysis runs.</summary>
public static class PromQlTemplateValidation
{
    /// <summary>Why <paramref name="template"/> cannot be rendered safely, or null when it can.</summary>
    public static string? Problem(string template)
    {
        try
        {
            // Confined as it will be when it runs, so a template whose selectors cannot be confined is refused up front.
            PromQlSelectors.Confine(PromQlTemplate.Render(template, new TrackSelector("namespace", "model", Track.Canary, "revision"), TimeSpan.FromSeconds(30)), "namespace", "namespace");
            return null;
        }
        catch (PromQlTemplateException ex)
        {
            return ex.Message;
        }
    }
}

/// <summary>PromQL string literals for values the operator writes into rules itself (alert expressions).</summary>
public static class PromQlLabelValue
{
    /// <summary><paramref name="value"/> as a double-quoted PromQL string: <c>x"} or vector(1)</c> stays one literal.</summary>
    public static string Quote(string value) => "\"" + PromQlTemplate.EscapeLabelValue(value, '"') + "\"";
}
