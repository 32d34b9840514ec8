using System.Diagnostics;

namespace GruDemo;

/// <summary>Waits on a condition with a deadline: the demo and its test never sleep a fixed time.</summary>
public static class Conditions
{
    /// <summary>Polls <paramref name="condition"/> every 250 ms until true; a TimeoutException naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, CancellationToken cancellationToken, Func<string>? diagnostics = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"waited {timeout.TotalSeconds:0}s for {what}{(diagnostics is null ? "" : ": " + diagnostics())}");
            }

            await Task.Delay(250, cancellationToken);
        }
    }
}
