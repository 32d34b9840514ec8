using GruRegistry.Distribution;
using GruRegistry.References;
using GruServer.Hosting;

namespace GruServer.Registry;

/// <summary>A model to pull from an OCI registry at start: the digest-pinned reference, where to cache it, and how
/// to reach the registry (credentials, CA, plain-http hosts).</summary>
internal sealed record OciModelSource(
    OciReference Reference,
    string CacheDirectory,
    RegistryCredentials Credentials,
    string? CaCertificateFile,
    IReadOnlyList<string> PlainHttpRegistries)
{
    /// <summary>Reads the oci:// reference and the registry settings; appends problems naming the flag to fix.</summary>
    public static OciModelSource? Parse(string text, Func<ServerSetting, string?> raw, List<string> errors)
    {
        if (!OciReference.TryParse(text, out var reference, out var error))
        {
            errors.Add($"{ServerSettings.Model.DisplayName}: {error}");
            return null;
        }

        // A tag names whatever was pushed last: two replicas started a minute apart could serve different models.
        // Only a manifest digest says which bytes are served, so tags are resolved by whoever deploys (the operator).
        if (reference.Digest is null)
        {
            errors.Add($"{ServerSettings.Model.DisplayName}: '{text}' names a tag; pin the manifest digest instead " +
                $"(oci://{reference.Registry}/{reference.Repository}@sha256:...; `gru-model inspect` prints it).");
            return null;
        }

        var credentials = RegistryCredentials.Anonymous;
        var username = raw(ServerSettings.RegistryUsername);
        var password = raw(ServerSettings.RegistryPassword);
        if ((username is null) != (password is null))
        {
            errors.Add($"{ServerSettings.RegistryUsername.DisplayName} and {ServerSettings.RegistryPassword.DisplayName} go together: give both or neither.");
        }
        else if (username is not null)
        {
            // The password is for one registry, stated beside it; the --model reference alone never decides where it goes.
            var host = raw(ServerSettings.RegistryHost)?.Trim();
            if (string.IsNullOrEmpty(host))
            {
                errors.Add($"{ServerSettings.RegistryHost.DisplayName} must name the registry (host[:port]) {ServerSettings.RegistryUsername.DisplayName} is for, e.g. {reference.Registry}.");
            }
            else if (!string.Equals(host, reference.Registry, StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"{ServerSettings.RegistryUsername.DisplayName} is for registry {host} ({ServerSettings.RegistryHost.DisplayName}), not {reference.Registry} named by " +
                    $"{ServerSettings.Model.DisplayName}; refusing to send the password elsewhere.");
            }
            else
            {
                credentials = RegistryCredentials.For(host, username, password!);
            }
        }

        if (raw(ServerSettings.RegistryConfig) is { } configPath)
        {
            try
            {
                credentials = credentials.Merge(RegistryCredentials.FromDockerConfigJson(File.ReadAllText(configPath), $"{ServerSettings.RegistryConfig.DisplayName} '{configPath}'"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or RegistryException)
            {
                errors.Add($"{ServerSettings.RegistryConfig.DisplayName}: cannot read '{configPath}': {e.Message}");
            }
        }

        var ca = raw(ServerSettings.RegistryCaFile);
        if (ca is not null && !File.Exists(ca))
        {
            errors.Add($"{ServerSettings.RegistryCaFile.DisplayName}: '{ca}' does not exist; give a PEM file of CA certificates.");
        }

        var plainHttp = (raw(ServerSettings.RegistryPlainHttp) ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var cache = Path.GetFullPath(raw(ServerSettings.ModelCacheDir)!);
        return new OciModelSource(reference, cache, credentials, ca, plainHttp);
    }
}
