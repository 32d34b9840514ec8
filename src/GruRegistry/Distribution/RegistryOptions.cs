using Microsoft.Extensions.Options;

namespace GruRegistry.Distribution;

/// <summary>How the registry client talks to registries; bound from the <c>Registry</c> configuration section.</summary>
public sealed class RegistryOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string Section = "Registry";

    /// <summary>Time one request may take until the response headers (or one read of a download) before it is abandoned.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Time one metadata request (manifest, HEAD, token) may take across all its retries.</summary>
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Time one blob upload request (a PUT or PATCH carrying data) may take; uploads are never retried mid-way.</summary>
    public TimeSpan UploadTimeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Retries after the first attempt on 5xx, 429, 408, connection failures and attempt timeouts (reads only).</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>Base of the exponential backoff between retries (with jitter).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Blobs up to this size are uploaded in one PUT; larger ones in PATCH chunks of this size.</summary>
    public long ChunkSize { get; set; } = 64L << 20;

    /// <summary>
    /// Registries (host[:port]) reached over plain http instead of https, like Docker's insecure-registries:
    /// for a registry on the local machine or inside a trusted network only.
    /// </summary>
    public IList<string> PlainHttpRegistries { get; } = [];

    /// <summary>PEM file of CA certificates to trust for registries with a private CA.</summary>
    public string? CaCertificateFile { get; set; }
}

/// <summary>Checks <see cref="RegistryOptions"/> at start-up and names the key to fix.</summary>
internal sealed class RegistryOptionsValidation : IValidateOptions<RegistryOptions>
{
    public ValidateOptionsResult Validate(string? name, RegistryOptions options)
    {
        var errors = new List<string>();
        if (options.AttemptTimeout <= TimeSpan.Zero || options.TotalTimeout < options.AttemptTimeout)
        {
            errors.Add($"Registry:AttemptTimeout must be positive and no longer than Registry:TotalTimeout (got {options.AttemptTimeout} and {options.TotalTimeout}).");
        }

        if (options.UploadTimeout <= TimeSpan.Zero)
        {
            errors.Add($"Registry:UploadTimeout must be positive, got {options.UploadTimeout}.");
        }

        if (options.MaxRetries is < 0 or > 10)
        {
            errors.Add($"Registry:MaxRetries must be between 0 and 10, got {options.MaxRetries}.");
        }

        if (options.RetryBaseDelay <= TimeSpan.Zero)
        {
            errors.Add($"Registry:RetryBaseDelay must be positive, got {options.RetryBaseDelay}.");
        }

        if (options.ChunkSize < 1 << 20)
        {
            errors.Add($"Registry:ChunkSize must be at least 1 MiB (1048576), got {options.ChunkSize}.");
        }

        if (options.CaCertificateFile is { Length: > 0 } ca && !File.Exists(ca))
        {
            errors.Add($"Registry:CaCertificateFile '{ca}' does not exist.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
