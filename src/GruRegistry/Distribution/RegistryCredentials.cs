using System.Text;
using System.Text.Json;

namespace GruRegistry.Distribution;

/// <summary>A username and password (or token as password) for one registry.</summary>
public sealed record RegistryCredential(string Username, string Password)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Username}:***"; // never print the password
}

/// <summary>
/// Credentials by registry host[:port]: from a Kubernetes <c>.dockerconfigjson</c> / Docker <c>config.json</c>
/// (<c>auths</c>, each with <c>auth</c> = base64(user:password) or <c>username</c>/<c>password</c>) or given directly.
/// </summary>
public sealed class RegistryCredentials
{
    private readonly Dictionary<string, RegistryCredential> _byRegistry = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>No credentials: anonymous access.</summary>
    public static RegistryCredentials Anonymous { get; } = new();

    /// <summary>Registries with credentials.</summary>
    public IReadOnlyCollection<string> Registries => _byRegistry.Keys;

    /// <summary>Credentials for one registry.</summary>
    public static RegistryCredentials For(string registry, string username, string password)
    {
        var credentials = new RegistryCredentials();
        credentials._byRegistry[registry] = new RegistryCredential(username, password);
        return credentials;
    }

    /// <summary>Parses dockerconfigjson content; <paramref name="origin"/> names where it came from in errors (a file or Secret).</summary>
    public static RegistryCredentials FromDockerConfigJson(string json, string origin)
    {
        var credentials = new RegistryCredentials();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new RegistryException(RegistryErrorKind.Local, $"{origin} is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("auths", out var auths) || auths.ValueKind != JsonValueKind.Object)
            {
                throw new RegistryException(RegistryErrorKind.Local,
                    $"{origin} has no \"auths\" object: expected {{\"auths\": {{\"registry.example.com\": {{\"auth\": \"<base64 user:password>\"}}}}}}");
            }

            foreach (var entry in auths.EnumerateObject())
            {
                var registry = RegistryKey(entry.Name);
                credentials._byRegistry[registry] = Parse(entry.Value, $"{origin} auths[\"{entry.Name}\"]");
            }
        }

        return credentials;
    }

    /// <summary>The credential for <paramref name="registry"/> (host[:port]), or null for anonymous access.</summary>
    public RegistryCredential? Find(string registry) => _byRegistry.GetValueOrDefault(registry);

    /// <summary>This store plus <paramref name="other"/>, whose entries win.</summary>
    public RegistryCredentials Merge(RegistryCredentials other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var merged = new RegistryCredentials();
        foreach (var (key, value) in _byRegistry.Concat(other._byRegistry))
        {
            merged._byRegistry[key] = value;
        }

        return merged;
    }

    private static RegistryCredential Parse(JsonElement entry, string where)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw new RegistryException(RegistryErrorKind.Local, $"{where} must be an object with \"auth\" or \"username\"/\"password\"");
        }

        if (entry.TryGetProperty("auth", out var auth) && auth.GetString() is { Length: > 0 } encoded)
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
            }
            catch (FormatException ex)
            {
                throw new RegistryException(RegistryErrorKind.Local, $"{where}.auth is not base64 of user:password", ex);
            }

            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            return colon > 0
                ? new RegistryCredential(decoded[..colon], decoded[(colon + 1)..])
                : throw new RegistryException(RegistryErrorKind.Local, $"{where}.auth decodes to no user:password pair");
        }

        if (entry.TryGetProperty("username", out var user) && user.GetString() is { Length: > 0 } username)
        {
            var password = entry.TryGetProperty("password", out var p) ? p.GetString() ?? "" : "";
            return new RegistryCredential(username, password);
        }

        throw new RegistryException(RegistryErrorKind.Local,
            $"{where} has neither \"auth\" nor \"username\" (identity tokens and credential helpers are not supported)");
    }

    /// <summary>Docker writes keys such as https://index.docker.io/v1/ as well as bare host[:port]; keep host[:port].</summary>
    private static string RegistryKey(string key)
    {
        if (Uri.TryCreate(key, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            return uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}";
        }

        return key.TrimEnd('/');
    }
}
