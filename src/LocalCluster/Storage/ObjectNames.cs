using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Kube.Local.Api;
using Kube.Local.Resources;

namespace Kube.Local.Storage;

/// <summary>Name validation and generateName suffixes, with apimachinery's messages.</summary>
internal static partial class ObjectNames
{
    // apimachinery's rand.String alphabet: no vowels (no accidental words), no confusable 0/1/3.
    private const string Alphabet = "bcdfghjklmnpqrstvwxz2456789";

    public static string Generate(string prefix)
    {
        Span<char> suffix = stackalloc char[5];
        for (var i = 0; i < suffix.Length; i++) suffix[i] = Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)];
        // Kubernetes caps the base so the result stays within 63 characters.
        var basePart = prefix.Length > 58 ? prefix[..58] : prefix;
        return basePart + new string(suffix);
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex Subdomain();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Label();

    [GeneratedRegex("^[a-z]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Dns1035();

    [GeneratedRegex("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")]
    private static partial Regex LabelValue();

    [GeneratedRegex("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")]
    private static partial Regex QualifiedNamePart();

    /// <summary>Returns the causes that make <paramref name="name"/> invalid for the resource, empty when valid.</summary>
    public static IReadOnlyList<StatusCause> Validate(string name, NameRule rule)
    {
        var causes = new List<StatusCause>();
        switch (rule)
        {
            case NameRule.Label when name.Length > 63 || !Label().IsMatch(name):
                causes.Add(Invalid(name, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"));
                break;
            case NameRule.Dns1035Label when name.Length > 63 || !Dns1035().IsMatch(name):
                causes.Add(Invalid(name, "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"));
                break;
            case NameRule.Subdomain when name.Length > 253 || !Subdomain().IsMatch(name):
                causes.Add(Invalid(name, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
                break;
        }
        return causes;
    }

    private static StatusCause Invalid(string name, string why) =>
        new("FieldValueInvalid", $"Invalid value: \"{name}\": {why}", "metadata.name");

    /// <summary>Validates label keys and values as metav1 validation does.</summary>
    public static IEnumerable<StatusCause> ValidateLabels(IReadOnlyDictionary<string, string> labels)
    {
        foreach (var (key, value) in labels)
        {
            var slash = key.IndexOf('/', StringComparison.Ordinal);
            var namePart = slash >= 0 ? key[(slash + 1)..] : key;
            var prefix = slash >= 0 ? key[..slash] : null;
            if (namePart.Length == 0 || namePart.Length > 63 || !QualifiedNamePart().IsMatch(namePart) ||
                (prefix is not null && (prefix.Length > 253 || !Subdomain().IsMatch(prefix))))
            {
                yield return new StatusCause("FieldValueInvalid",
                    $"Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                    "metadata.labels");
            }
            if (value.Length > 63 || !LabelValue().IsMatch(value))
            {
                yield return new StatusCause("FieldValueInvalid",
                    $"Invalid value: \"{value}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                    "metadata.labels");
            }
        }
    }
}
