namespace Kube.Local.Storage;

/// <summary>ADDED, MODIFIED, DELETED as the watch protocol spells them.</summary>
internal enum WatchEventType
{
    Added,
    Modified,
    Deleted,
}

/// <summary>One committed change. Previous lets a selector-filtered watch turn "stopped matching" into DELETED.</summary>
internal sealed record WatchEvent(WatchEventType Type, string StorageKey, StoredObject Object, StoredObject? Previous)
{
    public long ResourceVersion => Object.ResourceVersion;
}
