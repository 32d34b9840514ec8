using GruOperator.Domain.Analysis;
using GruOperator.Domain.Scaling;
using GruRegistry.Tls;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;

namespace GruOperator.Providers.Prometheus;

/// <summary>Creates the Prometheus metric provider for a model's <c>spec.prometheus.address</c>, or the configured default.</summary>
public sealed class PrometheusMetricProviderFactory
{
    private readonly IHttpClientFactory _httpClients;
    private readonly IOptionsMonitor<PrometheusOptions> _options;
    private readonly ILoggerFactory _loggers;
    private readonly PrometheusAddressPolicy _policy;

    internal PrometheusMetricProviderFactory(IHttpClientFactory httpClients, IOptionsMonitor<PrometheusOptions> options, ILoggerFactory loggers, PrometheusAddressPolicy policy)
    {
        _policy = policy;
        _httpClients = httpClients;
        _options = options;
        _loggers = loggers;
    }

    /// <summary>
    /// A provider for <paramref name="address"/>; null means the configured <c>Prometheus:Address</c>. With neither,
    /// every measurement fails with a reason saying what to set, so runs are Inconclusive rather than reconciles crashing.
    /// </summary>
    public IMetricProvider Create(Uri? address) =>
        Server(address, out var refusal) is { } server
            ? new PrometheusMetricProvider(
                Client(), server, new GruSliQueries(_options.CurrentValue.SeriesSelector), _options.CurrentValue.CounterLookback, _options.CurrentValue.NamespaceLabel,
                _loggers.CreateLogger<PrometheusMetricProvider>())
            : new FailingMetricProvider(refusal!);

    /// <summary>
    /// The autoscaler's load source for <paramref name="address"/> (null: the configured default), with the same address
    /// rules as <see cref="Create"/>; without a usable address every reading is "no value" naming what to set.
    /// </summary>
    public ILoadSource CreateLoadSource(Uri? address) =>
        Server(address, out var refusal) is { } server
            ? new PrometheusLoadSource(
                Client(), server, _options.CurrentValue.SeriesSelector, _options.CurrentValue.LoadWindow, _options.CurrentValue.NamespaceLabel,
                _loggers.CreateLogger<PrometheusLoadSource>())
            : new FailingLoadSource(refusal!);

    /// <summary>The server to query, or null with the reason none may be.</summary>
    private Uri? Server(Uri? address, out string? refusal)
    {
        refusal = null;
        if ((address ?? _options.CurrentValue.Address) is not { } server)
        {
            refusal = "no Prometheus address: set spec.prometheus.address on the GruModel or Prometheus:Address in the operator's configuration";
            return null;
        }

        if (!server.IsAbsoluteUri || server.Scheme is not ("http" or "https"))
        {
            refusal = $"Prometheus address '{server}' must be an absolute http(s) URL such as http://prometheus.monitoring.svc:9090";
            return null;
        }

        // Checked again here (spec validation refuses it first): the operator's identity goes to allowed addresses only.
        if (address is not null && _policy.Problem(server.OriginalString, "spec.prometheus.address") is { } problem)
        {
            refusal = problem;
            return null;
        }

        return server;
    }

    private PrometheusClient Client() =>
        new(_httpClients.CreateClient(PrometheusServiceCollectionExtensions.HttpClientName), _options, _loggers.CreateLogger<PrometheusClient>());
}

/// <summary>Stands in when no usable Prometheus address is known: data, not exceptions, as every provider.</summary>
internal sealed class FailingMetricProvider(string reason) : IMetricProvider
{
    public Task<Measurement> MeasureAsync(MetricQuery query, CancellationToken cancellationToken) =>
        Task.FromResult(Measurement.Failed(reason));
}

/// <summary>Registers the Prometheus provider: options, the resilient HTTP client and <see cref="PrometheusMetricProviderFactory"/>.</summary>
public static class PrometheusServiceCollectionExtensions
{
    internal const string HttpClientName = "GruOperator.Prometheus";

    /// <summary>Adds the provider with options bound from <paramref name="section"/> (usually <c>Prometheus</c>).</summary>
    public static IServiceCollection AddPrometheusMetricProvider(this IServiceCollection services, IConfiguration section)
    {
        services.AddOptions<PrometheusOptions>().Bind(section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PrometheusOptions>, PrometheusOptionsValidation>();
        // The operator registers its own policy (with --prometheus-address in it); alone, the provider allows its options' addresses.
        services.TryAddSingleton(sp => PrometheusAddressPolicy.From(sp.GetRequiredService<IOptions<PrometheusOptions>>().Value));
        services.AddSingleton(sp => new PrometheusMetricProviderFactory(
            sp.GetRequiredService<IHttpClientFactory>(), sp.GetRequiredService<IOptionsMonitor<PrometheusOptions>>(), sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<PrometheusAddressPolicy>()));

        services.AddHttpClient(HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan) // the pipeline owns timeouts
            .ConfigurePrimaryHttpMessageHandler(sp =>
            {
                var handler = CustomCertificateAuthority.Handler(sp.GetRequiredService<IOptions<PrometheusOptions>>().Value.CaCertificateFile);
                // A redirect would take the operator's credentials (or its reach) to an address no one allowed.
                handler.AllowAutoRedirect = false;
                return handler;
            })
            .AddResilienceHandler("prometheus", (pipeline, context) =>
            {
                var o = context.ServiceProvider.GetRequiredService<IOptions<PrometheusOptions>>().Value;
                pipeline.AddTimeout(o.TotalTimeout);
                if (o.MaxRetries > 0)
                {
                    // The default predicate already covers 5xx, 408, 429, HttpRequestException and attempt timeouts.
                    pipeline.AddRetry(new HttpRetryStrategyOptions
                    {
                        MaxRetryAttempts = o.MaxRetries,
                        BackoffType = DelayBackoffType.Exponential,
                        UseJitter = true,
                        Delay = o.RetryBaseDelay,
                        ShouldRetryAfterHeader = true,
                        MaxDelay = o.TotalTimeout,
                    });
                }

                pipeline.AddTimeout(o.AttemptTimeout);
            });
        return services;
    }
}
