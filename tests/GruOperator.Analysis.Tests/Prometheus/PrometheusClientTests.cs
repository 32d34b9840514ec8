using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;
using GruOperator.Providers.Prometheus;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TestSupport;

namespace GruOperator.Analysis.Tests.Prometheus;

/// <summary>The client against a scripted fake server: retries, timeouts, error bodies, auth and TLS.</summary>
public sealed class PrometheusClientTests : IDisposable
{
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));

    private CancellationToken Timeout => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    [Theory]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(503)]
    [InlineData(429)]
    public async Task Retries_transient_answers_then_succeeds(int status)
    {
        await using var server = await ScriptedPrometheus.StartAsync((context, attempt) =>
            attempt <= 2 ? ScriptedPrometheus.Json(context, status, "{\"status\":\"error\",\"errorType\":\"unavailable\",\"error\":\"busy\"}")
                         : ScriptedPrometheus.Json(context, 200, ScriptedPrometheus.OneSample));
        await using var services = PrometheusServices.Build(server.Address);

        var result = await PrometheusServices.Client(services).QueryAsync(server.Address, "up", At, Timeout);

        Assert.Equal(0.5, PrometheusMetricProvider.SingleValue(result, "up"));
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task Gives_up_after_the_configured_retries_with_the_last_answer()
    {
        await using var server = await ScriptedPrometheus.StartAsync((context, _) => ScriptedPrometheus.Json(context, 502, "upstream down"));
        await using var services = PrometheusServices.Build(server.Address);

        var error = await Assert.ThrowsAsync<PrometheusException>(
            () => PrometheusServices.Client(services).QueryAsync(server.Address, "up", At, Timeout));

        Assert.Equal(PrometheusErrorKind.HttpError, error.Kind);
        Assert.Contains("HTTP 502", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("upstream down", error.Message, StringComparison.Ordinal); // a body is never quoted into status
        Assert.Equal(4, server.Requests.Count); // 1 attempt + MaxRetries 3
    }

    [Fact]
    public async Task Bad_PromQL_is_not_retried_and_names_the_error_type()
    {
        await using var server = await ScriptedPrometheus.StartAsync((context, _) => ScriptedPrometheus.Json(context, 400,
            "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"query\\\": 1:4: parse error: unexpected end of input\"}"));
        await using var services = PrometheusServices.Build(server.Address);

        var error = await Assert.ThrowsAsync<PrometheusException>(
            () => PrometheusServices.Client(services).QueryAsync(server.Address, "sum(", At, Timeout));

        Assert.Equal(PrometheusErrorKind.BadQuery, error.Kind);
        Assert.Contains("bad_data: invalid parameter \"query\": 1:4: parse error", error.Message, StringComparison.Ordinal);
        Assert.Contains("(query: sum()", error.Message, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_server_slower_than_the_attempt_timeout_is_retried_then_reported_as_a_timeout()
    {
        await using var server = await ScriptedPrometheus.StartAsync(async (context, _) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted);
            await ScriptedPrometheus.Json(context, 200, ScriptedPrometheus.OneSample);
        });
        await using var services = PrometheusServices.Build(server.Address, new Dictionary<string, string?>
        {
            // The server counts an attempt when its handler runs; a 1 s attempt on a loaded 2-core machine was once
            // aborted before Kestrel dispatched it (2 requests seen of 3 sent). 3 s leaves the dispatch ample room.
            ["Prometheus:AttemptTimeout"] = "00:00:03",
            ["Prometheus:TotalTimeout"] = "00:00:30",
            ["Prometheus:MaxRetries"] = "2",
        });

        var error = await Assert.ThrowsAsync<PrometheusException>(
            () => PrometheusServices.Client(services).QueryAsync(server.Address, "up", At, Timeout));

        Assert.Equal(PrometheusErrorKind.Timeout, error.Kind);
        Assert.Contains("did not answer within", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task An_unreachable_server_is_a_failed_measurement_not_an_exception()
    {
        var nowhere = new Uri($"http://127.0.0.1:{FreePort.Next()}/");
        await using var services = PrometheusServices.Build(nowhere, new Dictionary<string, string?> { ["Prometheus:MaxRetries"] = "1" });
        var provider = services.GetRequiredService<PrometheusMetricProviderFactory>().Create(null);
        var window = AnalysisWindow.Between(At.AddSeconds(-20), At);

        var measurement = await provider.MeasureAsync(
            new MetricQuery(MetricNames.RequestCount, new BuiltInSli(Sli.RequestCount), new TrackSelector("ml", "m", Track.Canary, "2"), window),
            Timeout);

        Assert.Null(measurement.Value);
        Assert.Contains($"Prometheus at {nowhere} is unreachable", measurement.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "no Prometheus address: set spec.prometheus.address")]
    [InlineData("prometheus:9090", "must be an absolute http(s) URL")]
    [InlineData("ftp://prometheus:2121/", "'ftp://prometheus:2121/' must be an absolute http(s) URL")]
    public async Task Without_a_usable_address_every_run_is_inconclusive_with_the_fix(string? address, string reason)
    {
        await using var services = PrometheusServices.Build(null);
        var provider = services.GetRequiredService<PrometheusMetricProviderFactory>()
            .Create(address is null ? null : new Uri(address, UriKind.RelativeOrAbsolute));
        var analysis = new CanaryAnalysis(provider, ComparisonPolicy.Default);
        var window = AnalysisWindow.Between(At.AddSeconds(-20), At);

        var run = await analysis.RunAsync(
            new AnalysisRequest(new SloSpec(TimeSpan.FromMilliseconds(200), 0.01, null, 50), CanaryAnalysisSpec.Default, "ml", "m", "1", "2", window),
            Timeout);

        Assert.Equal(Verdict.Inconclusive, run.Verdict);
        Assert.Contains(reason, run.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sends_the_query_as_a_form_and_keeps_warnings()
    {
        await using var server = await ScriptedPrometheus.StartAsync((context, _) => ScriptedPrometheus.Json(context, 200,
            "{\"status\":\"success\",\"warnings\":[\"results truncated\"],\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":[[1700000000,\"1\"],[1700000001,\"2\"]]}]}}"));
        await using var services = PrometheusServices.Build(server.Address);

        var result = await PrometheusServices.Client(services).QueryAsync(server.Address, "x{a=\"b\"}[140s]", At, Timeout);

        Assert.Equal(["results truncated"], result.Warnings);
        Assert.Equal([1.0, 2.0], result.Series.Single().Samples.Select(s => s.Value)); // a range selector's raw samples
        var request = Assert.Single(server.Requests);
        Assert.Equal(("POST", "/api/v1/query"), (request.Method, request.Path));
        Assert.Equal("x{a=\"b\"}[140s]", request.Form["query"]);
        Assert.Equal(At.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), request.Form["time"]);
    }

    [Fact]
    public async Task Keeps_a_path_prefix_of_the_address()
    {
        await using var server = await ScriptedPrometheus.StartAsync((context, _) => ScriptedPrometheus.Json(context, 200, ScriptedPrometheus.OneSample));
        await using var services = PrometheusServices.Build(server.Address);

        await PrometheusServices.Client(services).QueryAsync(new Uri(server.Address, "prometheus"), "up", At, Timeout);

        Assert.Equal("/prometheus/api/v1/query", Assert.Single(server.Requests).Path);
    }

    public static TheoryData<string, string, string, string?> Credentials => new()
    {
        { "Prometheus:BearerToken", "s3cret", "", "Bearer s3cret" },
        { "Prometheus:Username", "alice", "wonderland", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:wonderland")) },
        { "Prometheus:Address", "", "", null },
    };

    [Theory]
    [MemberData(nameof(Credentials))]
    public async Task Sends_configured_credentials(string key, string value, string password, string? expected)
    {
        await using var server = await ScriptedPrometheus.StartAsync((context, _) => ScriptedPrometheus.Json(context, 200, ScriptedPrometheus.OneSample));
        var settings = new Dictionary<string, string?> { ["Prometheus:Password"] = password.Length > 0 ? password : null };
        if (value.Length > 0)
        {
            settings[key] = value;
        }

        await using var services = PrometheusServices.Build(server.Address, settings);

        await PrometheusServices.Client(services).QueryAsync(server.Address, "up", At, Timeout);

        Assert.Equal(expected, Assert.Single(server.Requests).Authorization);
    }

    [Fact]
    public async Task Rereads_a_bearer_token_file_so_rotated_tokens_work()
    {
        var tokenFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(tokenFile, "first\n");
            await using var server = await ScriptedPrometheus.StartAsync((context, _) => ScriptedPrometheus.Json(context, 200, ScriptedPrometheus.OneSample));
            await using var services = PrometheusServices.Build(server.Address, new Dictionary<string, string?> { ["Prometheus:BearerTokenFile"] = tokenFile });
            var client = PrometheusServices.Client(services);

            await client.QueryAsync(server.Address, "up", At, Timeout);
            await File.WriteAllTextAsync(tokenFile, "second");
            await client.QueryAsync(server.Address, "up", At, Timeout);

            Assert.Equal(["Bearer first", "Bearer second"], server.Requests.Select(r => r.Authorization));
        }
        finally
        {
            File.Delete(tokenFile);
        }
    }

    [Fact]
    public async Task A_missing_token_file_is_a_clear_credentials_error()
    {
        await using var server = await ScriptedPrometheus.StartAsync((context, _) => ScriptedPrometheus.Json(context, 200, ScriptedPrometheus.OneSample));
        var missing = Path.Combine(Path.GetTempPath(), $"no-token-{Guid.NewGuid():N}");
        await using var services = PrometheusServices.Build(server.Address, new Dictionary<string, string?> { ["Prometheus:BearerTokenFile"] = missing });

        var error = await Assert.ThrowsAsync<PrometheusException>(
            () => PrometheusServices.Client(services).QueryAsync(server.Address, "up", At, Timeout));

        Assert.Equal(PrometheusErrorKind.Credentials, error.Kind);
        Assert.Contains($"cannot read Prometheus:BearerTokenFile '{missing}'", error.Message, StringComparison.Ordinal);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Trusts_a_private_CA_only_when_configured()
    {
        var (authority, leaf) = IssueServerCertificate();
        var caFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(caFile, authority.ExportCertificatePem());
            await using var server = await ScriptedPrometheus.StartAsync((context, _) => ScriptedPrometheus.Json(context, 200, ScriptedPrometheus.OneSample), leaf);
            Assert.Equal("https", server.Address.Scheme);

            await using (var trusting = PrometheusServices.Build(server.Address, new Dictionary<string, string?> { ["Prometheus:CaCertificateFile"] = caFile }))
            {
                var result = await PrometheusServices.Client(trusting).QueryAsync(server.Address, "up", At, Timeout);
                Assert.Equal(0.5, PrometheusMetricProvider.SingleValue(result, "up"));
            }

            await using var untrusting = PrometheusServices.Build(server.Address, new Dictionary<string, string?> { ["Prometheus:MaxRetries"] = "0" });
            var error = await Assert.ThrowsAsync<PrometheusException>(
                () => PrometheusServices.Client(untrusting).QueryAsync(server.Address, "up", At, Timeout));
            Assert.Equal(PrometheusErrorKind.Unreachable, error.Kind);
            Assert.Single(server.Requests); // the untrusted handshake never produced a request
        }
        finally
        {
            File.Delete(caFile);
            authority.Dispose();
            leaf.Dispose();
        }
    }

    public static TheoryData<string, string?, string> BadOptions => new()
    {
        { "Prometheus:Address", "ftp://prometheus:21", "Prometheus:Address must be an absolute http(s) URL" },
        { "Prometheus:AttemptTimeout", "00:01:00", "Prometheus:AttemptTimeout must be positive and no longer than Prometheus:TotalTimeout" },
        { "Prometheus:MaxRetries", "50", "Prometheus:MaxRetries must be between 0 and 10" },
        { "Prometheus:Password", "pw", "Password is set without Prometheus:Username" },
        { "Prometheus:CaCertificateFile", "/nonexistent/ca.pem", "'/nonexistent/ca.pem' does not exist" },
        { "Prometheus:SeriesSelector", "model=\"{{model}}\"", "must match on {{track}}" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Refuses_bad_options_at_start_naming_the_key(string key, string? value, string message)
    {
        using var services = PrometheusServices.Build(new Uri("http://127.0.0.1:9090"), new Dictionary<string, string?> { [key] = value });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<PrometheusOptions>>().Value);

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    private static (X509Certificate2 Authority, X509Certificate2 Leaf) IssueServerCertificate()
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=gru analysis test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var authority = caRequest.CreateSelfSigned(now.AddHours(-1), now.AddDays(1));

        using var leafKey = RSA.Create(2048);
        var leafRequest = new CertificateRequest("CN=127.0.0.1", leafKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        leafRequest.CertificateExtensions.Add(names.Build());
        leafRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        leafRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var issued = leafRequest.Create(authority, now.AddHours(-1), now.AddDays(1), RandomNumberGenerator.GetBytes(8));
        using var withKey = issued.CopyWithPrivateKey(leafKey);
        // Kestrel wants a key it can use for TLS; a PKCS#12 round trip gives it a persisted one.
        var leaf = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        return (authority, leaf);
    }
}
