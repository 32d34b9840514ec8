using Microsoft.Extensions.Options;

namespace GruOperator.Providers.Prometheus;

/// <summary>How the operator reaches Prometheus; bound from the <c>Prometheus</c> configuration section.</summary>
public sealed class PrometheusOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string Section = "Prometheus";

    /// <summary>Default server when a GruModel sets no <c>spec.prometheus.address</c>.</summary>
    public Uri? Address { get; set; }

    /// <summary>Time one HTTP attempt may take before it is abandoned and retried.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Time a query may take across all its retries.</summary>
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries after the first attempt on 5xx, 429, 408, connection failures and attempt timeouts.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>Base of the exponential backoff between retries (with jitter).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Bearer token sent as <c>Authorization: Bearer</c>.</summary>
    public string? BearerToken { get; set; }

    /// <summary>File holding the bearer token, re-read per request so rotated service-account tokens keep working.</summary>
    public string? BearerTokenFile { get; set; }

    /// <summary>User for HTTP basic authentication.</summary>
    public string? Username { get; set; }

    /// <summary>Password for HTTP basic authentication.</summary>
    public string? Password { get; set; }

    /// <summary>PEM file of CA certificates to trust for an https Prometheus with a private CA.</summary>
    public string? CaCertificateFile { get; set; }

    /// <summary>
    /// Comma-separated Prometheus URLs, besides the default address, that a GruModel's <c>spec.prometheus.address</c> may
    /// name. The operator's credentials go to no other address: a model naming one is refused (InvalidSpec).
    /// </summary>
    public string? AllowedAddresses { get; set; }

    /// <summary>Most bytes of one Prometheus answer read into memory; a longer answer fails the measurement.</summary>
    public long MaxResponseBytes { get; set; } = 16L << 20;

    /// <summary>
    /// The label every selector of a custom analysis query is confined to, set to the model's namespace (as
    /// prom-label-proxy does): a tenant's query reads only its own namespace's series.
    /// </summary>
    public string NamespaceLabel { get; set; } = "namespace";

    /// <summary>
    /// How far before a window's start the provider reads counter samples, to find each series' value at the start.
    /// Must exceed the scrape interval (with room for a missed scrape): a series with no sample in it counts from zero.
    /// </summary>
    public TimeSpan CounterLookback { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The window the autoscaler averages load over (avg_over_time of the in-flight gauge, rate of the queue-wait histogram):
    /// a few scrape intervals, so one scrape does not move replicas and a real change shows within it.
    /// </summary>
    public TimeSpan LoadWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The label matchers that select one track's series, with template values. The default expects the
    /// scrape configuration to add a <c>namespace</c> label (as Kubernetes service discovery relabelling does).
    /// </summary>
    public string SeriesSelector { get; set; } =
        "namespace=\"{{namespace}}\",model=\"{{model}}\",track=\"{{track}}\",revision=\"{{revision}}\"";
}

/// <summary>Checks <see cref="PrometheusOptions"/> at start-up and names the key to fix.</summary>
internal sealed class PrometheusOptionsValidation : IValidateOptions<PrometheusOptions>
{
    public ValidateOptionsResult Validate(string? name, PrometheusOptions options)
    {
        var errors = new List<string>();
        if (options.Address is { } address && (!address.IsAbsoluteUri || address.Scheme is not ("http" or "https")))
        {
            errors.Add($"Prometheus:Address must be an absolute http(s) URL such as http://prometheus.monitoring.svc:9090, got '{address}'.");
        }

        if (options.AttemptTimeout <= TimeSpan.Zero || options.TotalTimeout < options.AttemptTimeout)
        {
            errors.Add($"Prometheus:AttemptTimeout must be positive and no longer than Prometheus:TotalTimeout (got {options.AttemptTimeout} and {options.TotalTimeout}).");
        }

        if (options.MaxRetries is < 0 or > 10)
        {
            errors.Add($"Prometheus:MaxRetries must be between 0 and 10, got {options.MaxRetries}.");
        }

        if (options.LoadWindow < TimeSpan.FromSeconds(1) || options.LoadWindow > TimeSpan.FromHours(1))
        {
            errors.Add($"Prometheus:LoadWindow must be between 1s and 1h and span a few scrape intervals (e.g. 00:01:00), got {options.LoadWindow}.");
        }

        if (options.CounterLookback < TimeSpan.FromSeconds(1))
        {
            errors.Add($"Prometheus:CounterLookback must be at least 1s and longer than the scrape interval (e.g. 00:02:00), got {options.CounterLookback}.");
        }

        if (options.RetryBaseDelay <= TimeSpan.Zero)
        {
            errors.Add($"Prometheus:RetryBaseDelay must be positive, got {options.RetryBaseDelay}.");
        }

        var bearer = !string.IsNullOrEmpty(options.BearerToken) || !string.IsNullOrEmpty(options.BearerTokenFile);
        if (bearer && !string.IsNullOrEmpty(options.Username))
        {
            errors.Add("Prometheus: set either a bearer token (BearerToken/BearerTokenFile) or basic auth (Username/Password), not both.");
        }

        if (!string.IsNullOrEmpty(options.BearerToken) && !string.IsNullOrEmpty(options.BearerTokenFile))
        {
            errors.Add("Prometheus: set BearerToken or BearerTokenFile, not both.");
        }

        if (!string.IsNullOrEmpty(options.Password) && string.IsNullOrEmpty(options.Username))
        {
            errors.Add("Prometheus:Password is set without Prometheus:Username.");
        }

        foreach (var entry in PrometheusAddressPolicy.Split(options.AllowedAddresses))
        {
            if (!Uri.TryCreate(entry, UriKind.Absolute, out var allowed) || allowed.Scheme is not ("http" or "https") || allowed.UserInfo.Length > 0 || allowed.Query.Length > 0)
            {
                errors.Add($"Prometheus:AllowedAddresses: '{entry}' must be an absolute http(s) URL without user info or query, e.g. https://prometheus.monitoring.svc:9090.");
            }
        }

        if (options.MaxResponseBytes < 64 << 10)
        {
            errors.Add($"Prometheus:MaxResponseBytes must be at least 65536, got {options.MaxResponseBytes}.");
        }

        if (!PromQlSelectors.IsLabelName(options.NamespaceLabel))
        {
            errors.Add($"Prometheus:NamespaceLabel must be a Prometheus label name such as namespace, got '{options.NamespaceLabel}'.");
        }

        if (options.CaCertificateFile is { Length: > 0 } ca && !File.Exists(ca))
        {
            errors.Add($"Prometheus:CaCertificateFile '{ca}' does not exist.");
        }

        foreach (var placeholder in PromQlTemplate.LabelPlaceholders.Where(p => p is "model" or "track" or "revision"))
        {
            if (!options.SeriesSelector.Contains("{{" + placeholder + "}}", StringComparison.Ordinal))
            {
                errors.Add($"Prometheus:SeriesSelector must match on {{{{{placeholder}}}}} or canary and stable would mix, got '{options.SeriesSelector}'.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
