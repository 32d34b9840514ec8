using System.Text;

namespace GruOperator.Providers.Prometheus;

/// <summary>
/// Confines every vector selector of a PromQL expression to one value of one label, as prom-label-proxy does: each
/// selector gets <c>namespace="&lt;the model's namespace&gt;"</c>, and any matcher of its own on that label is dropped.
/// A custom analysis query is written by whoever may create the GruModel and runs under the operator's Prometheus
/// identity, so without this it could read (and copy into status) any namespace's series.
/// </summary>
/// <remarks>
/// Written here rather than taken from a library: no maintained .NET PromQL parser exists, and prom-label-proxy is a
/// Go proxy. Only the lexical structure matters for this job (strings, label lists of by/on/…, function calls, braces),
/// so this is a tokenizer and a walk over its tokens, not a full parser; Prometheus still parses the result and refuses
/// anything malformed. What cannot be confined safely (an unterminated string, unbalanced braces, a matcher that is not
/// <c>label op "value"</c>) is refused with <see cref="PromQlTemplateException"/>.
/// </remarks>
internal static class PromQlSelectors
{
    // Words that are never a metric name at the position of a selector: binary operators, modifiers, literals.
    private static readonly HashSet<string> Keywords = new(StringComparer.OrdinalIgnoreCase)
    {
        "and", "or", "unless", "atan2", "bool", "offset", "inf", "nan",
    };

    // Words whose parenthesised list names labels, not selectors.
    private static readonly HashSet<string> LabelListKeywords = new(StringComparer.OrdinalIgnoreCase)
    {
        "by", "without", "on", "ignoring", "group_left", "group_right",
    };

    /// <summary>True for a Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*.</summary>
    public static bool IsLabelName(string? name) =>
        name is { Length: > 0 } && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    /// <summary><paramref name="query"/> with every selector matching <paramref name="label"/>=<paramref name="value"/> only.</summary>
    public static string Confine(string query, string label, string value)
    {
        var matcher = $"{label}=\"{PromQlTemplate.EscapeLabelValue(value, '"')}\"";
        var tokens = Tokenize(query);
        var output = new StringBuilder(query.Length + 64);
        var copied = 0;
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.Kind == TokenKind.Identifier)
            {
                var next = i + 1 < tokens.Count ? tokens[i + 1] : null;
                if (LabelListKeywords.Contains(token.Text))
                {
                    // by (a, b), group_left(c): label names, not selectors; group_left alone is a modifier.
                    if (next?.Text == "(") i = Closing(tokens, i + 1, "(", ")", query);
                    continue;
                }

                if (next?.Text == "(" || Keywords.Contains(token.Text) || (next?.Kind == TokenKind.Identifier && next.Text is "by" or "without"))
                {
                    continue; // a function or aggregation call (also sum by (x) (...)), or an operator word
                }

                if (next?.Text == "{")
                {
                    continue; // metric{...}: the braces are rewritten when reached
                }

                // A bare metric name: add the matcher right after it.
                output.Append(query, copied, token.End - copied).Append('{').Append(matcher).Append('}');
                copied = token.End;
                continue;
            }

            if (token.Text == "{")
            {
                var close = Closing(tokens, i, "{", "}", query);
                output.Append(query, copied, token.Start - copied).Append('{');
                foreach (var kept in Matchers(tokens, i + 1, close, query).Where(m => m.Label != label))
                {
                    output.Append(kept.Text).Append(", ");
                }

                output.Append(matcher).Append('}');
                copied = tokens[close].End;
                i = close;
            }
            else if (token.Text == "}")
            {
                throw new PromQlTemplateException($"unbalanced '}}' at position {token.Start} in query: {query}");
            }
        }

        return output.Append(query, copied, query.Length - copied).ToString();
    }

    /// <summary>The matchers between an opening brace and <paramref name="close"/>: label, operator, quoted value.</summary>
    private static IEnumerable<(string Label, string Text)> Matchers(List<Token> tokens, int from, int close, string query)
    {
        var i = from;
        while (i < close)
        {
            if (i + 2 >= close || tokens[i].Kind != TokenKind.Identifier || !IsLabelName(tokens[i].Text)
                || tokens[i + 1].Text is not ("=" or "!=" or "=~" or "!~") || tokens[i + 2].Kind != TokenKind.String)
            {
                throw new PromQlTemplateException(
                    $"a label matcher at position {tokens[i].Start} is not label=\"value\" (or !=, =~, !~): {query}");
            }

            yield return (tokens[i].Text, query[tokens[i].Start..tokens[i + 2].End]);
            i += 3;
            if (i < close)
            {
                if (tokens[i].Text != ",")
                {
                    throw new PromQlTemplateException($"expected ',' between label matchers at position {tokens[i].Start}: {query}");
                }

                i++;
            }
        }
    }

    /// <summary>
    /// The index of the token closing the bracket opened at <paramref name="open"/>. Parentheses nest; braces do not
    /// (a selector's matchers hold no braces), so a second '{' before the '}' is refused.
    /// </summary>
    private static int Closing(List<Token> tokens, int open, string opening, string closing, string query)
    {
        var depth = 0;
        for (var i = open; i < tokens.Count; i++)
        {
            if (tokens[i].Text == opening)
            {
                if (opening == "{" && depth > 0) break;
                depth++;
            }
            else if (tokens[i].Text == closing && --depth == 0)
            {
                return i;
            }
        }

        throw new PromQlTemplateException($"'{opening}' at position {tokens[open].Start} is never closed: {query}");
    }

    private enum TokenKind
    {
        Identifier,
        String,
        Number,
        Punctuation,
    }

    private sealed record Token(TokenKind Kind, int Start, int End, string Text);

    private static List<Token> Tokenize(string query)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < query.Length)
        {
            var c = query[i];
            var start = i;
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            if (c == '#')
            {
                while (i < query.Length && query[i] != '\n') i++;
                continue;
            }

            if (c is '"' or '\'' or '`')
            {
                i++;
                while (i < query.Length && query[i] != c)
                {
                    i += query[i] == '\\' && c != '`' ? 2 : 1;
                }

                if (i >= query.Length)
                {
                    throw new PromQlTemplateException($"unterminated string starting at position {start}: {query}");
                }

                i++;
                tokens.Add(new Token(TokenKind.String, start, i, query[start..i]));
                continue;
            }

            // A colon starts no name here: in x[10m:1m] it separates a subquery's range and step.
            if (char.IsAsciiLetter(c) || c is '_')
            {
                while (i < query.Length && (char.IsAsciiLetterOrDigit(query[i]) || query[i] is '_' or ':')) i++;
                tokens.Add(new Token(TokenKind.Identifier, start, i, query[start..i]));
                continue;
            }

            if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < query.Length && char.IsAsciiDigit(query[i + 1])))
            {
                // Numbers (1, 0.5, 1e-3, 0x1f) and durations (5m, 1h30m): one token; the letters never start a selector.
                while (i < query.Length && (char.IsAsciiLetterOrDigit(query[i]) || query[i] is '.' or '_'
                    || (query[i] is '+' or '-' && query[i - 1] is 'e' or 'E' && !query[start..i].StartsWith("0x", StringComparison.OrdinalIgnoreCase))))
                {
                    i++;
                }

                tokens.Add(new Token(TokenKind.Number, start, i, query[start..i]));
                continue;
            }

            // Two-character operators first, so != is not read as ! and =.
            var two = i + 1 < query.Length ? query.Substring(i, 2) : "";
            var length = two is "==" or "!=" or "<=" or ">=" or "=~" or "!~" ? 2 : 1;
            tokens.Add(new Token(TokenKind.Punctuation, start, i + length, query.Substring(i, length)));
            i += length;
        }

        return tokens;
    }
}
