#!/usr/bin/perl
# Writes a small MaxMind .mmdb for the GeoIP tests (and the examples that
# need one) with Debian's libmaxmind-db-writer-perl.
#
#   perl write_test_mmdb.pl OUT.mmdb < records
#
# One record a line: NETWORK|CC|COUNTRY|CITY|LAT|LON|ASN|ORG, empty fields
# left out of the record ("127.0.0.2/32|DE|Germany|Berlin|52.52|13.405|64500|Test AS").
# Lines starting with '#' and blank lines are skipped. IPv4 networks land in
# the IPv6 tree's ::/96, where libmaxminddb looks IPv4 addresses up.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift or die "usage: $0 OUT.mmdb < records\n";

my %types = (
  country                        => 'map',
  city                           => 'map',
  location                       => 'map',
  names                          => 'map',
  iso_code                       => 'utf8_string',
  en                             => 'utf8_string',
  latitude                       => 'double',
  longitude                      => 'double',
  autonomous_system_number       => 'uint32',
  autonomous_system_organization => 'utf8_string',
);

my $tree = MaxMind::DB::Writer::Tree->new(
  ip_version            => 6,
  record_size           => 24,
  database_type         => 'torcon-test',
  languages             => ['en'],
  description           => { en => 'torcon test database' },
  map_key_type_callback => sub { $types{ $_[0] } // die "no type for key $_[0]\n" },
  # Without this the writer silently drops 127.0.0.0/8 and the documentation ranges.
  remove_reserved_networks => 0,
);

my $count = 0;
while (my $line = <STDIN>) {
  chomp $line;
  next if $line =~ /^\s*(#|$)/;
  my ($net, $cc, $country, $city, $lat, $lon, $asn, $org) = split /\|/, $line, -1;
  die "line $.: expected NETWORK|CC|COUNTRY|CITY|LAT|LON|ASN|ORG\n" unless defined $org;
  my %rec;
  $rec{country}{iso_code} = $cc if length $cc;
  $rec{country}{names}{en} = $country if length $country;
  $rec{city}{names}{en} = $city if length $city;
  if (length $lat && length $lon) {
    $rec{location}{latitude}  = $lat + 0;
    $rec{location}{longitude} = $lon + 0;
  }
  $rec{autonomous_system_number} = $asn + 0 if length $asn;
  $rec{autonomous_system_organization} = $org if length $org;
  $tree->insert_network($net, \%rec);
  ++$count;
}

open my $fh, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($fh);
close $fh or die "$out: $!\n";
print STDERR "wrote $count records to $out\n";
