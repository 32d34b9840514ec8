namespace GruOperator.Tests.Support;

/// <summary>Polls a condition with a generous deadline instead of sleeping a fixed time.</summary>
internal static class Poll
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string? what = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0}s waiting for {what ?? "a condition"}.");
            await Task.Delay(20);
        }
    }

    public static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        T? value = default;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                value = await probe();
                if (value is not null && done(value)) return value;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                last = ex;
            }
            await Task.Delay(100);
        }
        var shown = value is null ? "none" : k8s.KubernetesJson.Serialize(value);
        throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0}s waiting for {what}; last value: {shown}", last);
    }
}
