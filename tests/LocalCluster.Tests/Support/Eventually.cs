namespace Kube.Local.Tests.Support;

/// <summary>Polls for a condition with a generous deadline (a loaded 2-core CI machine), never a fixed sleep.</summary>
public static class Eventually
{
    public static async Task<T> GetAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        T last;
        while (true)
        {
            last = await probe();
            if (done(last)) return last;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting for {what}; last value: {last}");
            await Task.Delay(50);
        }
    }
}
