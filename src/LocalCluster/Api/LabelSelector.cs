namespace Kube.Local.Api;

/// <summary>
/// A parsed labelSelector query string with every operator Kubernetes supports:
/// <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k in (a,b)</c>, <c>k notin (a,b)</c>, <c>k</c>, <c>!k</c>.
/// </summary>
internal sealed class LabelSelector
{
    private readonly IReadOnlyList<Requirement> _requirements;

    private LabelSelector(IReadOnlyList<Requirement> requirements) => _requirements = requirements;

    public static readonly LabelSelector Everything = new([]);

    public bool IsEmpty => _requirements.Count == 0;

    private enum Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist }

    private sealed record Requirement(string Key, Op Op, IReadOnlyList<string> Values);

    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        foreach (var r in _requirements)
        {
            var has = labels.TryGetValue(r.Key, out var value);
            var ok = r.Op switch
            {
                Op.Equals => has && value == r.Values[0],
                Op.NotEquals => !has || value != r.Values[0],
                Op.In => has && r.Values.Contains(value!),
                Op.NotIn => !has || !r.Values.Contains(value!),
                Op.Exists => has,
                Op.DoesNotExist => !has,
                _ => false,
            };
            if (!ok) return false;
        }
        return true;
    }

    public static LabelSelector Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return Everything;
        var reqs = new List<Requirement>();
        var i = 0;
        while (true)
        {
            SkipSpace(text, ref i);
            if (i >= text.Length) break;
            if (text[i] == '!')
            {
                i++;
                SkipSpace(text, ref i);
                reqs.Add(new Requirement(ReadKey(text, ref i), Op.DoesNotExist, []));
            }
            else
            {
                var key = ReadKey(text, ref i);
                SkipSpace(text, ref i);
                if (i >= text.Length || text[i] == ',')
                {
                    reqs.Add(new Requirement(key, Op.Exists, []));
                }
                else if (text[i] == '=')
                {
                    i += i + 1 < text.Length && text[i + 1] == '=' ? 2 : 1;
                    reqs.Add(new Requirement(key, Op.Equals, [ReadValue(text, ref i)]));
                }
                else if (text[i] == '!' && i + 1 < text.Length && text[i + 1] == '=')
                {
                    i += 2;
                    reqs.Add(new Requirement(key, Op.NotEquals, [ReadValue(text, ref i)]));
                }
                else if (Word(text, i, "notin"))
                {
                    i += 5;
                    reqs.Add(new Requirement(key, Op.NotIn, ReadSet(text, ref i)));
                }
                else if (Word(text, i, "in"))
                {
                    i += 2;
                    reqs.Add(new Requirement(key, Op.In, ReadSet(text, ref i)));
                }
                else
                {
                    throw Invalid(text, $"unexpected '{text[i]}' after key \"{key}\"; expected =, ==, !=, in, notin or ','");
                }
            }
            SkipSpace(text, ref i);
            if (i >= text.Length) break;
            if (text[i] != ',') throw Invalid(text, $"expected ',' at position {i}");
            i++;
        }
        return new LabelSelector(reqs);
    }

    private static bool Word(string s, int i, string word) =>
        string.CompareOrdinal(s, i, word, 0, word.Length) == 0 && (i + word.Length >= s.Length || s[i + word.Length] is ' ' or '(');

    private static void SkipSpace(string s, ref int i)
    {
        while (i < s.Length && s[i] == ' ') i++;
    }

    private static string ReadKey(string s, ref int i)
    {
        var start = i;
        while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] is '-' or '_' or '.' or '/')) i++;
        if (i == start) throw Invalid(s, $"expected a label key at position {start}");
        return s[start..i];
    }

    private static string ReadValue(string s, ref int i)
    {
        SkipSpace(s, ref i);
        var start = i;
        while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] is '-' or '_' or '.')) i++;
        return s[start..i];
    }

    private static IReadOnlyList<string> ReadSet(string s, ref int i)
    {
        SkipSpace(s, ref i);
        if (i >= s.Length || s[i] != '(') throw Invalid(s, "expected '(' after in/notin");
        i++;
        var values = new List<string>();
        while (true)
        {
            values.Add(ReadValue(s, ref i));
            SkipSpace(s, ref i);
            if (i >= s.Length) throw Invalid(s, "missing ')'");
            if (s[i] == ')') { i++; break; }
            if (s[i] != ',') throw Invalid(s, $"unexpected '{s[i]}' in value set");
            i++;
        }
        return values;
    }

    private static ApiError Invalid(string text, string why) =>
        ApiError.BadRequest($"unable to parse requirement: labelSelector \"{text}\": {why}");
}
