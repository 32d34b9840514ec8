using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace LocalServers;

/// <summary>A scrape target for <see cref="PrometheusProcess"/>: host:port on 127.0.0.1 plus labels added to its series.</summary>
public sealed record ScrapeTarget(string Job, int Port, IReadOnlyDictionary<string, string>? Labels = null);

/// <summary>
/// The real <c>prometheus</c> binary (Debian package) on a free 127.0.0.1 port with a temp data dir and a
/// generated config scraping the given targets every second. Fails with a clear message when the binary is
/// missing (run <c>make deps</c>); tests must not silently skip.
/// </summary>
public sealed class PrometheusProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly ProcessLog _log = new();

    private PrometheusProcess(Process process, string directory, Uri address)
    {
        _process = process;
        _directory = directory;
        Address = address;
    }

    /// <summary>Base address of the HTTP API, e.g. http://127.0.0.1:41234/.</summary>
    public Uri Address { get; }

    /// <summary>False once the process has exited (stopped or crashed).</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>What Prometheus logged so far, for assertion messages.</summary>
    public string Log => _log.ToString();

    /// <summary>The binary: /usr/bin/prometheus or the first one on PATH.</summary>
    public static string FindBinary() => InstalledBinary.Find("prometheus", "prometheus");

    /// <summary>
    /// Starts Prometheus scraping <paramref name="targets"/> every second and waits until it is ready; with
    /// <paramref name="storage"/>, on that TSDB (e.g. blocks backfilled by promtool) and keeping it 30 days.
    /// </summary>
    public static Task<PrometheusProcess> StartAsync(IReadOnlyList<ScrapeTarget> targets, CancellationToken cancellationToken, string? storage = null) =>
        StartAsync(targets, [], cancellationToken, storage);

    /// <summary>As above, plus one job per <c>http_sd_configs</c> URL (e.g. the node agent's), refreshed every second.</summary>
    public static async Task<PrometheusProcess> StartAsync(IReadOnlyList<ScrapeTarget> targets, IReadOnlyList<Uri> httpServiceDiscovery, CancellationToken cancellationToken, string? storage = null)
    {
        var binary = FindBinary();
        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++) // a free port can be taken between probing and binding
        {
            var directory = Directory.CreateTempSubdirectory("gru-prometheus-").FullName;
            var port = FreePort.Next();
            var config = Path.Combine(directory, "prometheus.yml");
            await File.WriteAllTextAsync(config, Config(targets, httpServiceDiscovery), cancellationToken);
            var start = new ProcessStartInfo(binary)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
                ArgumentList =
                {
                    $"--config.file={config}", $"--storage.tsdb.path={storage ?? Path.Combine(directory, "data")}",
                    $"--web.listen-address=127.0.0.1:{port}", $"--storage.tsdb.retention.time={(storage is null ? "1h" : "30d")}", "--log.level=warn",
                    "--query.lookback-delta=30s",
                },
            };
            var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {binary}");
            var prometheus = new PrometheusProcess(process, directory, new Uri($"http://127.0.0.1:{port}/"));
            prometheus._log.Attach(process);
            try
            {
                await prometheus.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken);
                return prometheus;
            }
            catch (InvalidOperationException ex)
            {
                last = ex;
                await prometheus.DisposeAsync();
            }
        }

        throw new InvalidOperationException("prometheus did not start after 3 attempts", last);
    }

    /// <summary>Waits until every target has been scraped successfully at least once.</summary>
    public async Task WaitForTargetsUpAsync(int targets, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        var lastAnswer = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var doc = await http.GetFromJsonAsync<JsonDocument>("api/v1/query?query=count(up%3D%3D1)", cancellationToken);
                lastAnswer = doc!.RootElement.GetRawText();
                var result = doc.RootElement.GetProperty("data").GetProperty("result");
                if (result.GetArrayLength() == 1 && double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture) >= targets)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(250, cancellationToken);
        }

        throw new TimeoutException($"prometheus did not see {targets} targets up within {timeout}; last answer {lastAnswer}; log: {Log}");
    }

    /// <summary>Stops the process (SIGKILL: tests need no graceful TSDB shutdown) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            _process.Dispose();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // a file still held open only leaks a temp dir
            }
        }
    }

    private static string Config(IReadOnlyList<ScrapeTarget> targets, IReadOnlyList<Uri> httpServiceDiscovery)
    {
        var yaml = new StringBuilder("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n");
        foreach (var target in targets)
        {
            yaml.Append($"  - job_name: '{target.Job}'\n    static_configs:\n      - targets: ['127.0.0.1:{target.Port}']\n");
            if (target.Labels is { Count: > 0 } labels)
            {
                yaml.Append("        labels:\n");
                foreach (var (key, value) in labels)
                {
                    yaml.Append($"          {key}: '{value.Replace("'", "''", StringComparison.Ordinal)}'\n");
                }
            }
        }

        for (var i = 0; i < httpServiceDiscovery.Count; i++)
        {
            yaml.Append($"  - job_name: 'http-sd-{i}'\n    http_sd_configs:\n      - url: '{httpServiceDiscovery[i]}'\n        refresh_interval: 1s\n");
        }

        return yaml.ToString();
    }

    private async Task WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(5) };
        switch (await ServerReadiness.WaitAsync(http, new Uri(Address, "-/ready"), r => r.IsSuccessStatusCode, () => _process.HasExited, timeout, TimeSpan.FromMilliseconds(200), cancellationToken))
        {
            case ReadinessOutcome.Exited:
                throw new InvalidOperationException($"prometheus exited with code {_process.ExitCode}: {Log}");
            case ReadinessOutcome.TimedOut:
                throw new InvalidOperationException($"prometheus was not ready within {timeout}: {Log}");
        }
    }
}
