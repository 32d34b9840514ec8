namespace LocalServers;

/// <summary>How a wait for a local server to come up ended.</summary>
public enum ReadinessOutcome
{
    Ready,
    Exited,
    TimedOut,
}

/// <summary>The start-up wait every launcher here shares: ask a URL until the server answers as <c>ready</c> says,
/// stopping early when its process exits. Callers word the failure, because only they know what to show.</summary>
public static class ServerReadiness
{
    /// <param name="ready">Whether an answer means up: 2xx for most, any status for a registry's <c>/v2/</c>.</param>
    /// <param name="hasExited">True once the server's process is gone: nothing will answer then.</param>
    public static async Task<ReadinessOutcome> WaitAsync(
        HttpClient http, Uri url, Func<HttpResponseMessage, bool> ready, Func<bool> hasExited, TimeSpan timeout, TimeSpan interval, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(ready);
        ArgumentNullException.ThrowIfNull(hasExited);
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (hasExited())
            {
                return ReadinessOutcome.Exited;
            }

            try
            {
                using var response = await http.GetAsync(url, cancellationToken).ConfigureAwait(false);
                if (ready(response))
                {
                    return ReadinessOutcome.Ready;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // A slow answer on a loaded machine; ask again.
            }

            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
        }

        return hasExited() ? ReadinessOutcome.Exited : ReadinessOutcome.TimedOut;
    }
}
