namespace ControllerRuntime.Tests.Support;

/// <summary>Waits for a condition that background workers make true, with a generous deadline instead of a fixed sleep.</summary>
internal static class Poll
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string? what = null)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (!condition())
        {
            try
            {
                await Task.Delay(10, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0}s waiting for {what ?? "a condition"}.");
            }
        }
    }
}
