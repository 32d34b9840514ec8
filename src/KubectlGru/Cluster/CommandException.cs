namespace KubectlGru.Cluster;

/// <summary>A failure the user can act on; printed as one line starting with "error:", exit code 1.</summary>
internal sealed class CommandException(string message) : Exception(message);
