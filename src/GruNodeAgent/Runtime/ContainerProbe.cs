using System.Globalization;
using System.Net.Sockets;
using k8s.Models;

namespace GruNodeAgent.Runtime;

/// <summary>One probe attempt's outcome, with the kubelet's wording for a failure.</summary>
internal readonly record struct ProbeOutcome(bool Success, string Message);

/// <summary>
/// Runs httpGet and tcpSocket probes against the pod's address (the kubelet's prober: 2xx/3xx is success, redirects
/// are not followed, the probe's timeoutSeconds bounds each attempt).
/// </summary>
internal sealed class ContainerProbe(HttpClient http)
{
    /// <summary>Refuses probe kinds the agent cannot run, so a pod never waits on a probe that never runs.</summary>
    public static void CheckSupported(V1Container container)
    {
        foreach (var (kind, probe) in new[] { ("startupProbe", container.StartupProbe), ("readinessProbe", container.ReadinessProbe), ("livenessProbe", container.LivenessProbe) })
        {
            if (probe is null) continue;
            if (probe.HttpGet is null && probe.TcpSocket is null)
            {
                throw new UnsupportedPodException(
                    $"container \"{container.Name}\" has a {kind} that is neither httpGet nor tcpSocket; the node agent runs only those");
            }
        }
    }

    public async Task<ProbeOutcome> RunAsync(V1Probe probe, V1Container container, string podIp, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(Math.Max(1, probe.TimeoutSeconds ?? 1)));
        if (probe.HttpGet is { } get)
        {
            var scheme = string.Equals(get.Scheme, "HTTPS", StringComparison.OrdinalIgnoreCase) ? "https" : "http";
            var port = Port(get.Port, container);
            var path = string.IsNullOrEmpty(get.Path) ? "/" : get.Path.StartsWith('/') ? get.Path : "/" + get.Path;
            var url = $"{scheme}://{(string.IsNullOrEmpty(get.Host) ? podIp : get.Host)}:{port}{path}";
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                foreach (var header in get.HttpHeaders ?? []) request.Headers.TryAddWithoutValidation(header.Name, header.Value);
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                var code = (int)response.StatusCode;
                return code is >= 200 and < 400
                    ? new(true, "")
                    : new(false, $"HTTP probe failed with statuscode: {code}");
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new(false, $"Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
            }
            catch (HttpRequestException e)
            {
                return new(false, $"Get \"{url}\": {e.InnerException?.Message ?? e.Message}");
            }
        }

        var tcp = probe.TcpSocket!;
        var tcpPort = Port(tcp.Port, container);
        var host = string.IsNullOrEmpty(tcp.Host) ? podIp : tcp.Host;
        try
        {
            using var socket = new TcpClient();
            await socket.ConnectAsync(host, tcpPort, timeout.Token).ConfigureAwait(false);
            return new(true, "");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(false, $"dial tcp {host}:{tcpPort}: i/o timeout");
        }
        catch (SocketException e)
        {
            return new(false, $"dial tcp {host}:{tcpPort}: {e.Message}");
        }
    }

    /// <summary>A probe port by number or by the container's port name.</summary>
    public static int Port(IntOrString port, V1Container container)
    {
        var text = port.Value ?? "";
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number)) return number;
        return (container.Ports ?? []).FirstOrDefault(p => p.Name == text)?.ContainerPort
            ?? throw new UnsupportedPodException($"container \"{container.Name}\" probes port \"{text}\", which none of its ports is named");
    }
}
